package pgtest

import (
	"errors"
	"testing"
)

// TestUnavailable: with no binaries to be found and no server URL, Start
// reports ErrUnavailable (which Main turns into loud skips), not a failure.
func TestUnavailable(t *testing.T) {
	t.Setenv(EnvURL, "")
	t.Setenv("PATH", t.TempDir())
	defer func(g string) { binGlob = g }(binGlob)
	binGlob = t.TempDir() + "/*/bin"
	c, err := Start(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		if c != nil {
			c.Stop()
		}
		t.Fatalf("Start without binaries = %v, want ErrUnavailable", err)
	}
}
