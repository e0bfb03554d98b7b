//go:build unix

package operators_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used (user + system). On a
// shared machine it measures a variant's cost better than wall time, which
// mostly reflects the share of the CPUs the scheduler gave us.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
