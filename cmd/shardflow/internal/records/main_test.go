package records

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: stream_test.go
// feeds Readers through pipes from goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
