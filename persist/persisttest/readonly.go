package persisttest

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// ReadOnlyChild helps a test check how code behaves where it cannot
// write. It returns the path of a test binary to run as a child, and the
// attributes to run it with, so that the file modes the test sets bind the
// child: read-only modes (0555 directories, 0444 files) stop their owner
// from writing, but not root, so the child runs as nobody when the test
// runs as root, else as this user. The binary is a copy of the running
// test's, named name in dir; dir and its parents below the temporary
// directory are opened for traversal (0755) so that nobody can reach it
// and what the test puts in dir.
func ReadOnlyChild(t testing.TB, dir, name string) (bin string, attr *syscall.SysProcAttr) {
	t.Helper()
	bin = filepath.Join(dir, name)
	copyExecutable(t, os.Args[0], bin)
	attr = &syscall.SysProcAttr{}
	if os.Geteuid() != 0 {
		return bin, attr
	}
	runAsNobody(t, attr)
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, attr
}

func copyExecutable(t testing.TB, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
