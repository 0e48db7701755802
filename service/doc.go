// Package service is the one domain API of spallocd: every operation the
// v1 protocol server, the HTTP admin API, the BMP workers and the trace
// replay perform goes through it, each as one database transaction. It owns
// the job life cycle, the queues, keepalives, BMP operations and their
// claims, reconfiguration, the consistency check and the change feed.
//
// It is the only importer of package db and opens no socket. Pure rules
// live below it (geometry, allocator, config) and know nothing of it;
// transports (tcpserver, httpapi, bmp) call it and never each other.
//
// # State
//
// The database is the record. In memory there is one committed world
// (world.go): the live machines in priority order with their BMPs, boards,
// allocator models, occupancy, queues, reservations (job_reserve.go) and
// drains; the live jobs; the open BMP operations of each BMP with their
// claims; the emergency stop; the settings. A world is immutable once
// published: the service holds the current one in an atomic pointer,
// readers load it and read without a lock, and each commit swaps in a new
// one. Nothing reachable from a
// published world is ever written again.
//
// Besides the world there are:
//
//   - the keepalive registry (job_keepalive.go): when each live job was last
//     touched, and from which address. A poll is a keepalive, tens of
//     thousands a second, so touching must not take the writer: each entry
//     is an atomic owned by the registry, added by the commit that creates
//     the job and removed by the commit that destroys it. The address is
//     written to its row only when it changes;
//   - queue service's hints (serveHint, job_reserve.go: "these requests do
//     not fit, anywhere or beside this region, since the machine last
//     gained room"), published with the commit so that a transaction that
//     rolls back leaves none; a hint can only save a placement attempt;
//   - what is derived from a published world on first use (world.derived:
//     what each owner's live jobs hold, job_limits.go), computed once
//     under a sync.Once and never changed after; each new world starts
//     without it;
//   - counters for Stats and Health (atomics).
//
// Claims of BMP operations live in the world only, not in the database: a
// restart hands every open operation out again anyway.
//
// # Writes
//
// A write function (Service.write) runs exactly once, on its caller's
// goroutine, holding the writer, in a database transaction of its own, with
// a tx: it reads the world it starts from through the tx and changes
// copies of what it touches (tx.edit copies a machine whole the first time,
// tx.setBoard the chunk of board states it writes, tx.editJob a job,
// tx.editOps the operations of a BMP); the rule for every copy is the same:
// a value is copied before it is written unless the transaction made it.
// It writes the database through t.q in the same order. It may not do I/O
// other than the database, wait, or keep anything after it returns; it gets
// its inputs from its caller (values, not shared state) and returns its
// result. Every write function ends with queue service (a commit never
// leaves free boards and a runnable head side by side), the retention of
// destroyed jobs, and writing the queues' net change.
//
// The commit publishes the world built from the copies; a failure (of the
// function or of the commit) rolls the database transaction back and drops
// the copies. So a failed call leaves database and memory as they were, and
// a killed process leaves a database from which Open rebuilds the same
// world. There is no group commit: measured under churn (10 connections),
// sharing commits between waiting calls saved about 5% of the server's CPU
// per cycle, not enough to carry a second mechanism.
//
// Claims (bmpop_claim.go) change memory alone: update is write without the
// database and without queue service.
//
// # Locks
//
// There is one lock that matters, the writer (wmu): write transactions,
// claims, Close and the consistency check's snapshot take it; nothing else
// is held while it is, except the feed's and subscriptions' own locks,
// which are taken inside it and never the other way round. Readers take no lock: they load the world, the
// registry entry, or use the read pool of the database. The consistency
// check holds the writer only to load the world and start a read
// transaction that sees the same commit; it compares beside the writer.
//
// # Occupancy
//
// What the allocator sees of a machine is derived in one place
// (machine_boards.go): its model from the boards that are dead in the
// configuration or out of service (whether the machine could ever hold a
// job), and each board's occupancy from its state by useOf: held by a job,
// waiting for its power-off, unavailable (out of service, or its BMP does
// not answer), or free. Every change of a board's state goes through
// tx.setBoard, which derives the board's occupancy again; a BMP's change of
// reachability derives its boards' again. A board behind an unreachable BMP
// is unavailable, not gone: jobs that need it wait for the BMP. The
// consistency check compares the occupancy with the one derived from the
// database.
//
// # BMP operations
//
// Power and link requests are operations in the world, one per board
// (bmpop_*.go), stored a row of bmp_ops per request, BMP, kind and links
// mask with a mask of the boards (an operation's id is its row's id << 5 +
// its board number); an operation leaves its row in the transaction that
// records its outcome (done, failed or superseded), and the row goes with
// its last operation. A newer power request for a board supersedes its
// older ones that no worker holds. A worker claims a BMP's operations
// under a lease as long as their worst case under the [bmp] settings plus
// a margin; a board's operations are handed out in order, so while one of
// them is claimed its later ones are held back. A worker reports outcomes
// (CompleteBMPOps) or gives claims back (ReleaseBMPOps); a claim whose
// lease ran out is handed back by the timed work (Tick), and a restart
// hands back every claim of the last run. A claim handed back is
// superseded when its board has a newer power request, so a claim never
// holds two power operations for one board. The power-off grace never
// frees a board while a live lease on one of its operations exists.
//
// # Change feed
//
// After each commit, in commit order, the service publishes what the
// commit changed (jobs, machines, BMPs with operations to claim, jobs
// destroyed, allocations with their waits) to every subscription; a
// subscription merges what its owner has not taken yet and is signalled
// without blocking the writer.
//
// # Time, errors
//
// Instants are time.Time (UTC, to the microsecond) and spans time.Duration
// in memory; the database keeps Unix seconds and the v1 protocol seconds,
// converted at the columns (times.go) and by the transports. Every error
// the service returns is an *Error with a kind; internal errors are logged
// by the service where they happen, once (transports check Logged).
package service
