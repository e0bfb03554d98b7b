package file

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/persist/location"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childMain(dir))
	}
	goleak.VerifyTestMain(m)
}

// childEnv carries the blob directory to a re-executed test binary that
// writes until it is killed.
const childEnv = "SHARDFLOW_FILE_CHILD_DIR"

const (
	childValueSize = 1 << 20
	killAfter      = 20 // writes the child completes before it hangs
)

// childValue is the i-th value the child writes: every byte is the same, so
// a torn value is easy to see.
func childValue(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, childValueSize) }

// childMain alternately overwrites "shared" and writes "own/i", printing the
// key after each Set returns. Its 21st Set prints "in-flight" when its
// temporary file is written and then never returns, so the parent can kill
// it with a write surely in progress.
func childMain(dir string) int {
	ctx := context.Background()
	b, err := Open(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	for i := 0; ; i++ {
		if i == killAfter {
			b.syncFile = func(*os.File) error {
				fmt.Println("in-flight")
				select {} // until killed
			}
		}
		key := "shared"
		if i%2 == 1 {
			key = fmt.Sprintf("own/%d", i)
		}
		if err := b.Set(ctx, key, childValue(i)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		fmt.Println(key)
	}
}

// TestKilledWriter kills a process in the middle of writing a 1 MiB value:
// every Set it reported is readable in full, the key it was overwriting
// holds one whole value, and the temporary file it left is listed, with a
// real ModTime, for the janitor.
func TestKilledWriter(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "in-flight" {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		reported = append(reported, sc.Text())
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child exited cleanly; it should have been killed")
	}
	if len(reported) != killAfter {
		t.Fatalf("child reported %d writes before dying, want %d", len(reported), killAfter)
	}
	b, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, key := range reported {
		v, ok, err := b.Get(t.Context(), key)
		if err != nil || !ok || len(v) != childValueSize || !bytes.Equal(v, bytes.Repeat(v[:1], len(v))) {
			t.Fatalf("reported key %q: %d bytes, ok=%v, err=%v; want one whole value", key, len(v), ok, err)
		}
	}
	var tmps []string
	err = b.List(t.Context(), "", func(m location.BlobMeta) error {
		if strings.HasSuffix(m.Key, ".tmp") {
			tmps = append(tmps, m.Key)
			if m.ModTime.IsZero() {
				t.Errorf("temporary file %q listed without a ModTime", m.Key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The killed write was the 21st: an overwrite of "shared".
	if len(tmps) != 1 || !strings.HasPrefix(tmps[0], "shared.") {
		t.Fatalf("temporary files listed: %v, want the one the killed Set of \"shared\" left", tmps)
	}
}
