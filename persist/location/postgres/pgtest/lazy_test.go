package pgtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// lazyChildEnv, when set, makes this test binary a child of TestMainLazy:
// TestMain then calls MainLazy, and TestLazyChild checks what it names.
const lazyChildEnv = "PGTEST_LAZY_CHILD"

// TestMainLazy runs this test binary under MainLazy twice: a run whose
// tests ask for no database must start no server, and one whose test asks
// must get one then (or the skip that says why there is none).
func TestMainLazy(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"none", "database"} {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run", "^TestLazyChild$", "-test.v")
		cmd.Env = append(os.Environ(), lazyChildEnv+"="+want)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %s: %v\n%s", want, err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestLazyChild") && !strings.Contains(string(out), "--- SKIP: TestLazyChild") {
			t.Fatalf("child %s ran no TestLazyChild:\n%s", want, out)
		}
	}
}

// TestLazyChild is the child's side of TestMainLazy.
func TestLazyChild(t *testing.T) {
	switch os.Getenv(lazyChildEnv) {
	case "":
		t.Skip("run by TestMainLazy in a child process")
	case "none":
		lazy.Lock()
		defer lazy.Unlock()
		if !lazy.on {
			t.Fatal("TestMain did not call MainLazy")
		}
		if lazy.tried || shared != nil {
			t.Fatal("MainLazy started a server before any test asked for a database")
		}
	case "database":
		_ = NewDatabase(t) // skips, saying why, if no server can be had
		lazy.Lock()
		defer lazy.Unlock()
		if !lazy.tried || shared == nil {
			t.Fatalf("NewDatabase returned with no server started (tried %v)", lazy.tried)
		}
	}
}
