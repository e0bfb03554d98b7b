//go:build !unix

package operators_test

import "time"

// cpuTime reports false: this system's CPU time is not read here, and the
// benchmarks report wall time only.
func cpuTime() (time.Duration, bool) { return 0, false }
