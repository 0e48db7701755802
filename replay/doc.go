// Package replay owns the trace-replay scheduling benchmark (`spallocd
// simulate`): it reads a job trace and its machine file (format
// spalloc-trace/1 and spalloc-trace-machines/1, ../shared/traces/README.md),
// replays the trace in simulated time through the real service and allocator
// on a temporary SQLite database, and reports the metrics of the traces
// README §4, optionally against reference.json (the original's numbers and
// the trace's limits).
//
// It drives the service only through its public API (package service) with
// an injected clock: nothing sleeps, every BMP operation is claimed and
// completed at once. It must not import db, any transport (tcpserver,
// httpapi, bmp) or the allocator: placement quality is measured, not
// reimplemented, here.
package replay
