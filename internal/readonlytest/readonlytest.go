// Package readonlytest helps a test check how code behaves where it cannot
// write: it runs a child process that the file modes a test sets bind.
//
// The files of a directory made read-only (0555, files 0444) stop their
// owner from writing, but not root. So when a test runs as root its child
// runs as nobody, which needs a copy of the test binary it can reach.
package readonlytest

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the uid and gid of the unprivileged user on Linux.
const nobody = 65534

// Child returns the path of a test binary to run as a child under dir, as
// name, and the attributes to run it with: as nobody when the test runs as
// root, else as this user. The binary is a copy of the running test's in
// dir; dir and its parents below the temporary directory are opened for
// traversal (0755) so that nobody can reach it and what the test puts in
// dir.
func Child(t testing.TB, dir, name string) (bin string, attr *syscall.SysProcAttr) {
	t.Helper()
	bin = filepath.Join(dir, name)
	copyExecutable(t, os.Args[0], bin)
	attr = &syscall.SysProcAttr{}
	if os.Geteuid() != 0 {
		return bin, attr
	}
	attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
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
