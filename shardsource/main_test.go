package shardsource

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stallTimeout is Config.IdleTimeout for the tests' Execute: a dataflow
// that stops making progress fails with the capabilities that hold it
// open, rather than hanging until go test's own timeout.
const stallTimeout = 30 * time.Second
