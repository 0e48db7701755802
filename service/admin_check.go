package service

// The consistency check operators run (and Open runs): no board in two
// jobs, no board held by a dead job, power that agrees with jobs and
// pending operations, queues that hold exactly the queued jobs; and a
// committed world (boards, occupancy, jobs, BMPs, open operations, queues)
// that is exactly what loading the database gives, with no claim older
// than its lease. It holds the writer only to take the world and start a
// read transaction at the same commit; the comparison runs beside the
// writer.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
)

// CheckConsistency returns a description of every inconsistency found; an
// empty list means none.
func (s *Service) CheckConsistency(ctx context.Context) ([]string, error) {
	w, rtx, err := s.snapshot(ctx)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	defer rtx.Rollback()
	q := db.New(rtx)
	problems, err := q.ConsistencyProblems(ctx)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	stored, _, err := loadWorld(ctx, q)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	return slices.Concat(problems, compareWorlds(w, stored), lapsedProblems(w, stamp(s.clock.Now()))), nil
}

// snapshot returns the committed world and a read transaction that sees
// the database as that world's commit left it: both are taken while the
// writer is held, and the transaction's first read fixes what it sees.
func (s *Service) snapshot(ctx context.Context) (*world, *sql.Tx, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, nil, errShuttingDown
	}
	rtx, err := s.db.Read.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.New(rtx).GetServerState(ctx, keyEmergencyStop); err != nil && !errors.Is(err, sql.ErrNoRows) {
		rtx.Rollback()
		return nil, nil, err
	}
	return s.world.Load(), rtx, nil
}

// lapsedProblems reports claims older than their lease (Tick hands them
// back; one seen here means its worker lost it less than a tick ago, or
// timed work does not run).
func lapsedProblems(w *world, now time.Time) []string {
	var out []string
	w.ops.each(func(_ int64, b *bmpOps) {
		for _, o := range b.ops {
			if o.lapsed(now) {
				out = append(out, fmt.Sprintf("BMP operation %d (%s, board id %d) was claimed at %s and its lease ran out at %s",
					o.id, o.kind, o.boardID, o.claimedAt.Format(time.RFC3339), o.leaseUntil.Format(time.RFC3339)))
			}
		}
	})
	return out
}

// compareWorlds lists where the committed world (mem) differs from the
// one the database holds (stored).
func compareWorlds(mem, stored *world) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(mem.machines) != len(stored.machines) {
		add("%d live machines in memory, %d in the database", len(mem.machines), len(stored.machines))
	}
	for _, m := range mem.machines {
		d := stored.machine(m.id)
		if d == nil {
			add("machine %s (id %d) is live in memory but not in the database", m.name, m.id)
			continue
		}
		out = append(out, compareMachines(m, d)...)
	}
	mem.jobs.each(func(id int64, j *job) {
		if d := stored.job(id); d == nil {
			add("job %d is live in memory, not in the database", id)
		} else if p := compareJobs(j, d); p != "" {
			add("job %d: %s", id, p)
		}
	})
	stored.jobs.each(func(id int64, _ *job) {
		if mem.job(id) == nil {
			add("job %d is live in the database, not in memory", id)
		}
	})
	out = append(out, compareOps(mem, stored)...)
	out = append(out, reservationProblems(mem)...)
	if mem.stopped != stored.stopped {
		add("emergency stop %v in memory, %v in the database", mem.stopped, stored.stopped)
	}
	return out
}

func compareMachines(m, d *machine) []string {
	var out []string
	add := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("machine %s: ", m.name)+fmt.Sprintf(format, args...))
	}
	if m.priority != d.priority || !slices.Equal(m.tags, d.tags) || !slices.Equal(m.deadLinks, d.deadLinks) {
		add("priority, tags or dead links differ from the database")
	}
	if !equalPtr(m.drain, d.drain) {
		add("drain %+v in memory, %+v in the database", m.drain, d.drain)
	}
	if !slices.Equal(m.queue, d.queue) {
		add("queue %v in memory, %v in the database", m.queue, d.queue)
	}
	if !sameReservation(m.reservation, d.reservation) {
		add("reservation %s in memory, %s in the database", describeReservation(m.reservation), describeReservation(d.reservation))
	}
	for k, b := range m.bmps {
		if k >= len(d.bmps) || b.id != d.bmps[k].id || b.unreachable != d.bmps[k].unreachable {
			add("BMP %d: reachability in memory differs from the database", b.id)
		}
	}
	for i := range m.info {
		b := m.board(i)
		if m.info[i] != d.info[i] {
			add("board %v: configuration %+v in memory, %+v in the database", b, m.info[i], d.info[i])
		}
		if md, dd := m.dyn(i), d.dyn(i); md != dd {
			add("board %v: %+v in memory, %+v in the database", b, md, dd)
		}
		if mu, du := m.occ.Use[i], d.occ.Use[i]; mu != du {
			add("board %v: occupancy %v in memory, %v from the database", b, mu, du)
		}
	}
	return out
}

// compareJobs says how a live job differs from its row ("" = not at all).
func compareJobs(j, d *job) string {
	switch {
	case j.state != d.state:
		return fmt.Sprintf("state %v in memory, %v in the database", j.state, d.state)
	case j.machine != d.machine || !slices.Equal(j.boards, d.boards):
		return fmt.Sprintf("boards %v on machine %d in memory, %v on %d in the database", j.boards, j.machine, d.boards, d.machine)
	case j.hasBoards() && (j.power != d.power || j.single != d.single || j.chipW != d.chipW || j.chipH != d.chipH || j.torus != d.torus ||
		j.block != d.block):
		return "power or allocation in memory differs from the database"
	case j.owner != d.owner || !equalPtr(j.keepalive, d.keepalive) || j.req.alloc() != d.req.alloc():
		return "request in memory differs from the database"
	}
	return ""
}

func equalPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// compareOps compares the open operations, and the index from operation
// to BMP with the lists.
func compareOps(mem, stored *world) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	n := 0
	mem.ops.each(func(bmpID int64, b *bmpOps) {
		for k, o := range b.ops {
			n++
			if at, ok := mem.opBMP.get(o.id); !ok || at != bmpID {
				add("open BMP operation %d is misplaced in the index (BMP %d)", o.id, bmpID)
			}
			if k > 0 && b.ops[k-1].id >= o.id {
				add("open BMP operations of BMP %d are out of order at %d", bmpID, o.id)
			}
			want := unclaimed(o)
			if got := dbOp(stored, o.id); got == nil {
				add("open BMP operation %d is not open in the database", o.id)
			} else if *got != want {
				add("BMP operation %d: memory %+v, database %+v", o.id, want, *got)
			}
		}
	})
	if n != mem.opBMP.len() || n != stored.opBMP.len() {
		add("%d open BMP operations in memory (%d indexed), %d in the database", n, mem.opBMP.len(), stored.opBMP.len())
	}
	return out
}

// unclaimed is an operation without its claim (claims are not stored).
func unclaimed(o *op) op {
	c := *o
	c.claimedAt, c.leaseUntil = time.Time{}, time.Time{}
	return c
}

func dbOp(w *world, id int64) *op {
	bmpID, ok := w.opBMP.get(id)
	if !ok {
		return nil
	}
	b, _ := w.ops.get(bmpID)
	if k, found := searchOp(b.ops, id); found {
		return b.ops[k]
	}
	return nil
}

// describeReservation is "job N: x,y w×h" or "none".
func describeReservation(r *reservation) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("job %d: %s", r.job, r.region)
}

// reservationProblems reports reservations that queue service would not
// leave behind: held by a job that is not queued on the machine, or for a
// region outside it.
func reservationProblems(w *world) []string {
	var out []string
	for _, m := range w.machines {
		r := m.reservation
		if r == nil {
			continue
		}
		if j := w.job(r.job); j == nil || j.state != StateQueued || !m.queued(r.job) {
			out = append(out, fmt.Sprintf("machine %s: reserved for job %d, which is not queued on it", m.name, r.job))
		}
		if g := r.region; g.Empty() || g.X < 0 || g.Y < 0 || g.X+g.W > m.width || g.Y+g.H > m.height {
			out = append(out, fmt.Sprintf("machine %s: reserved region %s is not inside the machine", m.name, g))
		}
	}
	return out
}
