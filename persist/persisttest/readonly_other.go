//go:build !unix

package persisttest

import (
	"syscall"
	"testing"
)

// runAsNobody skips the test: a child cannot be started as another user
// here.
func runAsNobody(t testing.TB, _ *syscall.SysProcAttr) {
	t.Skip("persisttest: cannot start a child as another user on this system")
}
