package bench

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain closes the benchmarks' shared environment, then fails the run if
// any goroutine is left (the measures start workers, fetchers, listeners and
// a heap sampler; all must be gone).
func TestMain(m *testing.M) {
	code := m.Run()
	if err := closeBenchEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
