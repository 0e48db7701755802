// Package gctune sets the garbage collector for spallocd's programs. It
// owns nothing but that choice; it must not be imported by library
// packages (only by main packages).
//
// Every write transaction copies the board states of the machines it
// changes (so that readers never see uncommitted state), which makes the
// server allocate around a hundred megabytes a second under job churn while its
// live heap stays small (about 15 MB with the 1200-board machine). Go's
// default (collect when the heap doubles) then spends a tenth of the CPU
// collecting. spallocd collects when the heap has grown fivefold instead,
// under a soft memory limit far above any real facility's live heap (a
// live heap near the limit would make the collector run all the time; set
// GOMEMLIMIT higher for such a deployment).
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
	MemoryLimit = 128 << 20
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
