//go:build unix

package slack

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. Benchmarks report it per operation beside
// the wall time, because on a shared machine the wall time mostly measures the queue for a
// core.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
