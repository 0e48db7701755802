// Package gctune sets the garbage collector for spallocd's programs. It
// owns nothing but that choice; it must not be imported by library
// packages (only by main packages).
//
// Every write transaction copies the board states of the machines it
// changes (so that readers never see uncommitted state), which makes the
// server allocate around a hundred megabytes a second under job churn while its
// live heap stays small. Go's default (collect when the heap doubles) then
// spends a tenth of the CPU collecting. spallocd collects when the heap has
// grown fivefold instead, and bounds it with a soft memory limit, so that
// memory stays well under the figure operators plan for.
package gctune

import (
	"os"
	"runtime/debug"
)

const (
	// Percent is the heap growth that starts a collection (GOGC).
	Percent = 400
	// MemoryLimit is the soft limit on memory the Go runtime manages
	// (GOMEMLIMIT); the collector works harder near it.
	MemoryLimit = 64 << 20
)

// Apply sets Percent and MemoryLimit, except where the environment sets
// GOGC or GOMEMLIMIT: an operator's explicit choice wins.
func Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
