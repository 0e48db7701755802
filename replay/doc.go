// Package replay owns the trace-replay scheduling benchmark (`spallocd
// simulate`): it reads a job trace and its machine file (formats
// spalloc-trace/1 and spalloc-trace-machines/1, docs/scheduling.md "Job
// traces"), or takes the machine from a spallocd configuration, replays the
// trace in simulated time through the real service and allocator on a
// temporary SQLite database, and reports the figures defined in the README's
// "Replaying job traces", optionally against reference.json (the original's
// figures and the trace's limits) and the scheduling targets listed there.
//
// It drives the service only through its public API (package service) with
// an injected clock: nothing sleeps, every BMP operation is claimed and
// completed, successfully, as soon as it exists. It must not import db, any
// transport (tcpserver, httpapi, bmp) or the allocator: placement quality is
// measured here, not reimplemented.
//
// How one replay maps the README's semantics onto the service:
//
//   - Machines: board (x, y, z) sits at cabinet x, frame y, board z, one BMP
//     per frame, every board and BMP with an address of its own; the service's
//     free delay is seconds_before_free.
//   - Arrival: CreateJob with the row's arguments (owner "trace-replay",
//     keepalive null). A job destroyed at once with "No suitable machines
//     available." is rejected; one in state power or ready was allocated by
//     that call.
//   - End: DestroyJob, then the power-off of its boards is completed. The
//     service frees boards only when their power-off is confirmed, and
//     serves the queues inside that same transaction; so the completion runs
//     before any other event, at the same simulated instant, and the jobs it
//     lets in are allocated at that instant. The "destroy" latency covers
//     DestroyJob and that completion (claims included): returning the boards
//     and serving the queue, like the original's destroy_job + free +
//     check_free. The power-on and link operations of the jobs it allocated
//     are completed afterwards, outside the measured time, as are those after
//     a create (whose latency is the CreateJob call alone).
//   - Allocation is detected through the change feed: after every event the
//     queued jobs the feed names are asked for their state; those no longer
//     queued were allocated at the current simulated instant, and their end
//     is scheduled at that instant + duration.
//   - Events at one instant: ends (ascending job id), returns (timed frees
//     with seconds_before_free > 0, done with Tick), arrivals (file order).
//   - The service's background loop (Run) runs during the replay, as in the
//     server, so the write-ahead log is checkpointed outside the commits; it
//     is not started with seconds_before_free > 0, where freeing must happen
//     at the return events only.
//   - util_held counts, over time, every working board of every triad that
//     holds a board of a running job: the service offers such a triad to no
//     block, and a triad used by single boards only to other single boards.
//     The public API does not report an allocation's block of triads, so a
//     triad of a block in which no board is reachable is not counted (the
//     allocator offers it to others anyway).
package replay
