//go:build unix

// Package cputime reads the CPU time this process has used, for benchmarks that report it per
// operation beside the wall time: on a shared machine the wall time mostly measures the
// queue for a core.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time (user and system) this process has used; false when it cannot be
// read.
func Process() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
