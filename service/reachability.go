package service

// BMP reachability (spec §6). A BMP that does not answer at all (its
// requests time out, or its address cannot be used) is not a fault of its
// boards: it is marked unreachable instead of taking boards out of service.
// While it is, its boards that no job holds are unavailable (the allocator
// sees them as dead, list_machines lists them as dead boards, the board map
// shows them as bmp_unreachable), jobs waiting for its operations go back to
// the queue or are destroyed exactly as for any failed operation, and
// power-offs it still owes are asked again. When it answers again (its
// worker probes it), its boards return to the pool and the queues are
// served in the same transaction. Board faults (an error code for a board,
// FPGAs with the wrong identity) still take the board out of service
// (opFailed in bmpops.go).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// defaultUnreachableReason is recorded when a worker gives no reason.
const defaultUnreachableReason = "the BMP does not answer"

// SetBMPReachable records whether a BMP answers, in one transaction; the
// BMP workers call it (false when a BMP cannot be reached at start, true
// when a BMP marked unreachable answers a probe again). Marking it
// unreachable makes its free boards unavailable and re-queues (or destroys)
// the jobs waiting for its operations; marking it reachable returns its
// boards to the pool and serves the queues. Setting the state it already
// has writes nothing. An unknown BMP id is NotFound.
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
	s.mirror.mu.RLock()
	defer s.mirror.mu.RUnlock()
	for _, m := range s.mirror.machines {
		for _, b := range m.bmps {
			if b.id == bmpID {
				return b.unreachable != reachable
			}
		}
	}
	return false
}

// downBMPs is the set of m's BMPs marked unreachable (nil when none).
func (m *machineState) downBMPs() map[int64]bool {
	var down map[int64]bool
	for _, b := range m.bmps {
		if b.unreachable {
			if down == nil {
				down = map[int64]bool{}
			}
			down[b.id] = true
		}
	}
	return down
}

// bmpDown reports whether board i's BMP is marked unreachable.
func (m *machineState) bmpDown(i int) bool {
	id := m.info[i].bmpID
	if id == 0 {
		return false
	}
	for k := range m.bmps {
		if m.bmps[k].id == id {
			return m.bmps[k].unreachable
		}
	}
	return false
}

// idleUse is the occupancy of board i of m when no job holds it and no
// power-off is awaited: free, unless it is out of service or its BMP is
// unreachable.
func (m *machineState) idleUse(i int) allocator.BoardUse {
	if m.dyn[i].oos != "" || m.bmpDown(i) {
		return allocator.Unavailable
	}
	return allocator.Free
}

// machineOfBMP finds the live machine of a BMP and the BMP's index in it.
func (t *tx) machineOfBMP(bmpID int64) (*machineState, int) {
	for _, m := range t.machinesInOrder() {
		for k, b := range m.bmps {
			if b.id == bmpID {
				return m, k
			}
		}
	}
	return nil, 0
}

// bmpDown marks a BMP unreachable: its boards that are free become
// unavailable, and boards freed later stay so (idleUse) until it answers.
func (t *tx) bmpDown(bmpID int64, reason string) error {
	if reason == "" {
		reason = defaultUnreachableReason
	}
	m, k := t.machineOfBMP(bmpID)
	if m == nil {
		return t.setRetiredBMPReachable(bmpID, false, reason)
	}
	if m.bmps[k].unreachable {
		return nil // keeps the time it was first found so
	}
	err := t.q.SetBMPUnreachable(t.ctx, db.SetBMPUnreachableParams{Since: &t.at, LastError: &reason, ID: bmpID})
	if err != nil {
		return t.dbErr("mark BMP unreachable", err)
	}
	mm := t.editMachine(m.id)
	mm.bmps = slices.Clone(mm.bmps) // shared with the published copy
	b := &mm.bmps[k]
	b.unreachable, b.downSince, b.lastErr = true, t.at, reason
	for i := range mm.info {
		if mm.info[i].bmpID == bmpID && mm.occ.Use[i] == allocator.Free {
			mm.occ.Use[i] = allocator.Unavailable
		}
	}
	t.change.machine(mm.name)
	t.logf("BMP unreachable: its boards are unavailable until it answers", "machine", mm.name,
		"cabinet", b.cabinet, "frame", b.frame, "address", b.address, "reason", reason)
	return t.rebuildModel(mm)
}

// bmpUp marks a BMP reachable again: its idle boards return to the pool,
// and queued jobs that only its boards can hold are queued on its machine
// again (queue service at the end of the transaction allocates them).
func (t *tx) bmpUp(bmpID int64) error {
	m, k := t.machineOfBMP(bmpID)
	if m == nil {
		return t.setRetiredBMPReachable(bmpID, true, "")
	}
	if !m.bmps[k].unreachable {
		return nil
	}
	if err := t.q.SetBMPReachable(t.ctx, bmpID); err != nil {
		return t.dbErr("mark BMP reachable", err)
	}
	mm := t.editMachine(m.id)
	mm.bmps = slices.Clone(mm.bmps)
	b := &mm.bmps[k]
	b.unreachable, b.downSince = false, 0
	for i := range mm.info {
		if d := mm.dyn[i]; mm.info[i].bmpID == bmpID && d.job == 0 && d.waiting == 0 {
			mm.occ.Use[i] = mm.idleUse(i)
		}
	}
	if err := t.rebuildModel(mm); err != nil {
		return err
	}
	t.change.machine(mm.name)
	t.logf("BMP answers again: its boards are available", "machine", mm.name,
		"cabinet", b.cabinet, "frame", b.frame, "address", b.address)
	return t.queueOnReturn(mm)
}

// queueOnReturn queues on m, at their place, the queued jobs that select m
// and that m can hold again.
func (t *tx) queueOnReturn(m *machineState) error {
	for _, id := range t.liveJobIDs() {
		j := t.job(id)
		if j.state != StateQueued || m.queued(id) || !selects(j.req, m) || !m.model.Feasible(j.areq) {
			continue
		}
		t.enqueue(m, id)
	}
	return nil
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
		err = t.q.SetBMPUnreachable(t.ctx, db.SetBMPUnreachableParams{Since: &t.at, LastError: &reason, ID: bmpID})
	}
	if err != nil {
		return t.dbErr("record BMP reachability", err)
	}
	return nil
}

// requeueStalled sends the jobs still waiting for an operation of an
// unreachable BMP back to the queue (or destroys them when nothing can
// hold them), as for a failed operation: their operations would only be
// carried out once the BMP answers again.
func (t *tx) requeueStalled(bmpID int64) error {
	ids, err := t.q.ListPoweringJobsOnBMP(t.ctx, bmpID)
	if err != nil {
		return t.dbErr("list jobs waiting for a BMP", err)
	}
	for _, id := range ids {
		if id == nil {
			continue
		}
		if j := t.job(*id); j != nil && j.state == StatePower {
			if err := t.requeue(*id, fmt.Sprintf("BMP %d is unreachable", bmpID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// opFailure is the outcome of a failed operation.
type opFailure struct {
	op      db.BmpOp
	err     error
	bmpDown bool // the BMP did not answer (OpResult.BMPDown)
}

// failOps records failed operations. The BMPs that did not answer are
// marked unreachable first, so that jobs re-queued here do not get their
// boards again; board faults take their boards out of service (opFailed).
// Jobs still waiting for other operations of those BMPs go back to the
// queue last.
func (t *tx) failOps(failed []opFailure) error {
	var down []int64
	for _, f := range failed {
		if !f.bmpDown || slices.Contains(down, f.op.BmpID) {
			continue
		}
		down = append(down, f.op.BmpID)
		if err := t.bmpDown(f.op.BmpID, f.err.Error()); err != nil {
			return err
		}
	}
	for _, f := range failed {
		var err error
		if f.bmpDown {
			err = t.opUnanswered(f.op, f.err)
		} else {
			err = t.opFailed(f.op, f.err)
		}
		if err != nil {
			return err
		}
	}
	for _, id := range down {
		if err := t.requeueStalled(id); err != nil {
			return err
		}
	}
	return nil
}

// opUnanswered records an operation whose BMP did not answer. The board is
// not blamed: it stays in service. The job the operation was for goes back
// to the queue (or is destroyed), as for any failure; a power-off is asked
// again unless a later request for the board is pending, to be carried out
// once the BMP answers (until then a released board waits for it, or the
// power-off grace frees it). A board of a removed machine is not asked
// again (as for its other failures): nothing can be given it any more.
func (t *tx) opUnanswered(op db.BmpOp, cause error) error {
	msg := cause.Error()
	if err := t.finish(op, "failed", &msg); err != nil {
		return err
	}
	t.logf("BMP operation failed: the BMP did not answer", "op", op.ID, "kind", op.Op, "board_id", op.BoardID, "err", msg)
	ref, live := t.s.mirror.boardIDs[op.BoardID]
	if !live {
		return nil
	}
	m, i := t.machine(ref.machine), ref.index
	if d := m.dyn[i]; d.job != 0 {
		if op.JobID == nil || *op.JobID != d.job {
			return nil // someone else's board now; its own operations decide
		}
		return t.requeue(d.job, fmt.Sprintf("board %v: the BMP did not answer: %s", m.board(i), msg))
	}
	if OpKind(op.Op) != OpPowerOff {
		return nil
	}
	return t.redoPowerOff(m, i)
}

// redoPowerOff asks again for the power-off of board i of m that did not
// get through, unless a later request for the board is pending (the last
// request wins).
func (t *tx) redoPowerOff(m *machineState, i int) error {
	pending, err := t.q.AdminBoardHasOpenOp(t.ctx, m.info[i].id)
	if err != nil {
		return t.dbErr("check board operations", err)
	}
	if pending {
		return nil
	}
	return t.addOp(m, i, m.dyn[i].waiting, OpPowerOff)
}

// checkBMPs compares the BMPs' reachability in memory with the database
// (CheckConsistency; the writer is held).
func (s *Service) checkBMPs(ctx context.Context) ([]string, error) {
	rows, err := s.wq.ListBMPReachability(ctx)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	mem := map[int64]bool{}
	for _, m := range s.mirror.machines {
		for _, b := range m.bmps {
			mem[b.id] = b.unreachable
		}
	}
	var out []string
	for _, r := range rows {
		down, ok := mem[r.ID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("BMP %d of a live machine is not in memory", r.ID))
		case down != (r.UnreachableSince != nil):
			out = append(out, fmt.Sprintf("BMP %d: unreachable %v in memory, %v in the database", r.ID, down, r.UnreachableSince != nil))
		}
	}
	return out, nil
}
