//go:build !unix

// Package cputime reads the CPU time this process has used, for benchmarks that report it per
// operation beside the wall time: on a shared machine the wall time mostly measures the
// queue for a core.
package cputime

import "time"

// Process is not measured here: benchmarks report wall time only.
func Process() (time.Duration, bool) { return 0, false }
