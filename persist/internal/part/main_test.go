package part

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the concurrent
// encoding tests start them).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
