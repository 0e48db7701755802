package service

// BMP reachability. A BMP that does not answer at all (its requests time
// out, or its address cannot be used) is not a fault of its boards: it is
// marked unreachable instead of taking boards out of service. While it is,
// its boards that no job holds are unavailable (occupancy; list_machines
// lists them as dead boards; the board map shows them as bmp_unreachable)
// but not gone: whether a machine could ever hold a job does not change,
// so jobs that need those boards stay queued, and their waiting reason
// names the BMP. Jobs waiting for its operations go back to the queue,
// power-offs it still owes are asked again. When it answers again (its
// worker probes it), its boards return to the pool and the queues are
// served in the same transaction. Board faults (an error code for a board,
// FPGAs with the wrong identity) take the board out of service
// (bmpop_complete.go).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// defaultUnreachableReason is recorded when a worker gives no reason.
const defaultUnreachableReason = "the BMP does not answer"

func bmpName(cabinet, frame int, address string) string {
	return fmt.Sprintf("the BMP of cabinet %d, frame %d (%s)", cabinet, frame, address)
}

// SetBMPReachable records whether a BMP answers, in one transaction; the
// BMP workers call it (false when a BMP cannot be reached at start, true
// when a BMP marked unreachable answers a probe again). Marking it
// unreachable makes its free boards unavailable and re-queues the jobs
// waiting for its operations; marking it reachable returns its boards to
// the pool and serves the queues. Setting the state it already has writes
// nothing. An unknown BMP id is NotFound.
func (s *Service) SetBMPReachable(ctx context.Context, bmpID int64, reachable bool, reason string) error {
	if s.bmpKnownAs(bmpID, reachable) {
		return nil // the common case (a worker starting): no write
	}
	return s.write(ctx, func(t *tx) error {
		if reachable {
			return t.bmpUp(bmpID)
		}
		if err := t.bmpDown(bmpID, reason); err != nil {
			return err
		}
		return t.requeueStalled(bmpID)
	})
}

// bmpKnownAs reports whether the committed state already says a BMP of a
// live machine is reachable (or not).
func (s *Service) bmpKnownAs(bmpID int64, reachable bool) bool {
	m, k := machineOfBMP(s.world.Load().machines, bmpID)
	return m != nil && m.bmps[k].unreachable != reachable
}

// machineOfBMP finds the live machine of a BMP among ms, and the BMP's
// index in it.
func machineOfBMP(ms []*machine, bmpID int64) (*machine, int) {
	for _, m := range ms {
		if k := m.bmpIndex(bmpID); k >= 0 {
			return m, k
		}
	}
	return nil, 0
}

// bmpDown marks a BMP unreachable: its free boards become unavailable, and
// boards freed later stay so until it answers.
func (t *tx) bmpDown(bmpID int64, reason string) error {
	if reason == "" {
		reason = defaultUnreachableReason
	}
	m, k := machineOfBMP(t.machines(), bmpID)
	if m == nil {
		return t.setRetiredBMPReachable(bmpID, false, reason)
	}
	if m.bmps[k].unreachable {
		return nil // keeps the time it was first found so
	}
	err := t.q.SetBMPUnreachable(t.ctx, db.SetBMPUnreachableParams{Since: ptr(unix(t.now)), LastError: &reason, ID: bmpID})
	if err != nil {
		return t.dbErr("mark BMP unreachable", err)
	}
	mm := t.edit(m.id)
	mm.bmps = slices.Clone(mm.bmps) // replaced, never written in place
	b := &mm.bmps[k]
	b.unreachable, b.since, b.lastErr = true, t.now, reason
	t.refreshBMPBoards(mm, bmpID)
	t.change.machine(mm.name)
	t.logAt(slog.LevelWarn, "BMP unreachable: its boards are unavailable until it answers", "machine", mm.name,
		"cabinet", b.cabinet, "frame", b.frame, "address", b.address, "reason", reason)
	return nil
}

// bmpUp marks a BMP reachable again: its idle boards return to the pool
// (queue service at the end of the transaction allocates them).
func (t *tx) bmpUp(bmpID int64) error {
	m, k := machineOfBMP(t.machines(), bmpID)
	if m == nil {
		return t.setRetiredBMPReachable(bmpID, true, "")
	}
	if !m.bmps[k].unreachable {
		return nil
	}
	if err := t.q.SetBMPReachable(t.ctx, bmpID); err != nil {
		return t.dbErr("mark BMP reachable", err)
	}
	mm := t.edit(m.id)
	mm.bmps = slices.Clone(mm.bmps)
	b := &mm.bmps[k]
	down := t.now.Sub(b.since)
	b.unreachable, b.since = false, time.Time{}
	t.refreshBMPBoards(mm, bmpID)
	t.change.machine(mm.name)
	t.logf("BMP answers again: its boards are available", "machine", mm.name,
		"cabinet", b.cabinet, "frame", b.frame, "address", b.address, "was_down", down)
	return nil
}

// refreshBMPBoards derives the occupancy of a BMP's boards again.
func (t *tx) refreshBMPBoards(m *machine, bmpID int64) {
	for i := range m.info {
		if m.info[i].bmpID == bmpID {
			t.refreshUse(m, i)
		}
	}
}

// setRetiredBMPReachable records the reachability of a BMP that belongs to
// no live machine (a removed machine's BMP with power-offs to carry out):
// it has no boards to make unavailable.
func (t *tx) setRetiredBMPReachable(bmpID int64, reachable bool, reason string) error {
	row, err := t.q.GetBMPReachability(t.ctx, bmpID)
	if errors.Is(err, sql.ErrNoRows) {
		return NotFound("There is no BMP %d.", bmpID)
	}
	if err != nil {
		return t.dbErr("read BMP", err)
	}
	if (row.UnreachableSince == nil) == reachable {
		return nil
	}
	if reachable {
		err = t.q.SetBMPReachable(t.ctx, bmpID)
	} else {
		err = t.q.SetBMPUnreachable(t.ctx, db.SetBMPUnreachableParams{Since: ptr(unix(t.now)), LastError: &reason, ID: bmpID})
	}
	if err != nil {
		return t.dbErr("record BMP reachability", err)
	}
	return nil
}

// requeueStalled sends the jobs still waiting for an operation of an
// unreachable BMP on a board they hold back to the queue, as for a failed
// operation: their operations would only be carried out once the BMP
// answers again, and they may run elsewhere meanwhile.
func (t *tx) requeueStalled(bmpID int64) error {
	var ids []int64
	for _, o := range t.opsOf(bmpID) {
		if o.job == 0 || containsID(ids, o.job) {
			continue
		}
		if j := t.job(o.job); j != nil && j.state == StatePower && t.holds(o.job, o.boardID) {
			ids = append(ids, o.job)
		}
	}
	for _, id := range ids {
		if err := t.requeue(id, fmt.Sprintf("BMP %d is unreachable", bmpID)); err != nil {
			return err
		}
	}
	return nil
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// holds reports whether a live job holds the board with this id.
func (t *tx) holds(job, boardID int64) bool {
	ref, live := t.boardRef(boardID)
	if !live {
		return false
	}
	return t.machine(ref.machine).dyn(ref.index).job == job
}

// unreachableHolding lists the unreachable BMPs of m whose boards, were they
// reachable, would let a queued job be placed now (waiting reasons).
func unreachableHolding(m *machine, j *job) []bmpInfo {
	var down []bmpInfo
	for _, b := range m.bmps {
		if b.unreachable {
			down = append(down, b)
		}
	}
	if len(down) == 0 {
		return nil
	}
	occ := m.occ.Clone()
	for i := range m.info {
		if occ.Use[i] == allocator.Unavailable && m.dyn(i).oos == "" {
			occ.Use[i] = allocator.Free
		}
	}
	if _, ok := allocator.Place(m.model.m, occ, j.areq); !ok {
		return nil
	}
	return down
}
