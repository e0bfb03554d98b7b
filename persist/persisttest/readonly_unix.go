//go:build unix

package persisttest

import (
	"syscall"
	"testing"
)

// nobody is the uid and gid of the unprivileged user on Linux.
const nobody = 65534

// runAsNobody makes a child started with attr run as nobody.
func runAsNobody(_ testing.TB, attr *syscall.SysProcAttr) {
	attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
}
