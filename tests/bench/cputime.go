//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processUsage returns what the process has used so far, or false if the
// system will not say.
func processUsage() (usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}, false
	}
	return usage{
		cpu:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		sys:      time.Duration(ru.Stime.Nano()),
		switches: int64(ru.Nvcsw + ru.Nivcsw),
		faults:   int64(ru.Minflt + ru.Majflt),
	}, true
}
