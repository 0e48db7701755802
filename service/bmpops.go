package service

// The BMP workers' side: which BMPs to serve, claiming operations, and
// recording their outcomes (spec §3, §6).

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// BMPs lists the BMPs of the current machines, in priority order, followed
// by BMPs of removed machines that still have operations to carry out
// (power-offs of the boards of a removed machine).
func (s *Service) BMPs(ctx context.Context) ([]BMPEndpoint, error) {
	rows, err := s.rq.ListServedBMPs(ctx)
	if err != nil {
		return nil, s.internal("list BMPs", err)
	}
	out := make([]BMPEndpoint, len(rows))
	for i, r := range rows {
		out[i] = BMPEndpoint{ID: r.ID, Machine: r.MachineName, Cabinet: int(r.Cabinet), Frame: int(r.Frame), Address: r.Address}
	}
	return out, nil
}

// ClaimBMPOps marks the open operations of a BMP as claimed and returns them
// in the order they were requested. Operations of a board that has a claimed
// operation not yet completed are held back until it completes, so that
// per board requests are carried out in order.
func (s *Service) ClaimBMPOps(ctx context.Context, bmpID int64) ([]BMPOp, error) {
	return s.ClaimAllBMPOps(ctx, []int64{bmpID})
}

// ClaimAllBMPOps is ClaimBMPOps for several BMPs at once: it returns the
// operations of all of them, in the order they were requested. The trace
// replay, which plays every BMP worker at once, uses it.
//
// A claim changes only the index of open operations (see opindex.go), under
// the writer lock so that no transaction sees half of it.
func (s *Service) ClaimAllBMPOps(ctx context.Context, bmpIDs []int64) ([]BMPOp, error) {
	if len(bmpIDs) == 0 {
		return nil, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, errShuttingDown
	}
	return s.ops.claim(bmpIDs, s.now()), nil
}

// ReleaseBMPOps gives claims back without an outcome: the operations are
// handed out again by a later claim. A BMP worker releases the operations
// it will not carry out or could not record (it stops, say because its
// BMP's address changed, or its stop cut a probe short). Ids of operations
// that are done, unknown or not claimed are ignored. The BMPs of released
// operations are woken through the change feed.
func (s *Service) ReleaseBMPOps(ctx context.Context, opIDs []int64) error {
	if len(opIDs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return errShuttingDown
	}
	var bmps []int64
	for _, id := range opIDs {
		if o := s.ops.byID[id]; o != nil && o.claimed {
			o.claimed, o.claimedAt = false, 0
			bmps = append(bmps, o.bmpID)
		}
	}
	if len(bmps) > 0 {
		s.feed.publish(Change{BMPs: slices.Compact(slices.Sorted(slices.Values(bmps)))})
	}
	return nil
}

// claim claims the open operations of the BMPs that are not held back by
// an operation in flight on their board (as it was before this claim:
// operations claimed together never hold each other back).
func (x *opIndex) claim(bmpIDs []int64, at float64) []BMPOp {
	var picked []*openOp
	for k, bmp := range bmpIDs {
		if slices.Contains(bmpIDs[:k], bmp) {
			continue
		}
		for _, o := range x.byBMP[bmp] {
			if !o.claimed && !x.hasClaimed(o.boardID) {
				picked = append(picked, o)
			}
		}
	}
	if len(picked) == 0 {
		return nil
	}
	slices.SortFunc(picked, func(a, b *openOp) int { return cmp.Compare(a.id, b.id) })
	ops := make([]BMPOp, len(picked))
	for k, o := range picked {
		o.claimed, o.claimedAt = true, at
		ops[k] = o.bmpOp()
	}
	return ops
}

// CompleteBMPOps records outcomes in one transaction: boards' power, jobs
// moving from power to ready, failed boards out of service (or, for
// outcomes with BMPDown, their BMP marked unreachable) and their jobs
// re-queued, freed boards returned to the pool and queues served. Results
// for operations that are already done (superseded, or redone after a
// restart) are ignored.
func (s *Service) CompleteBMPOps(ctx context.Context, results []OpResult) error {
	if len(results) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error { return t.completeAll(results) })
}

// completion collects what a batch of successful outcomes changes, for a
// few bulk statements.
type completion struct {
	ok       []*openOp
	power    map[int64]bool // board id -> power now (the last outcome wins)
	freed    []int64        // waiting boards whose power-off completed (free now)
	freeLate []int64        // ... that wait for the free delay
	retired  []int64        // boards of removed machines now off
}

func (t *tx) completeAll(results []OpResult) error {
	failing, err := t.failingOps(results)
	if err != nil {
		return err
	}
	var c completion
	var failed []opFailure
	var stale []int64
	seen := make(map[int64]bool, len(results))
	jobs := map[int64]bool{}
	for _, r := range results {
		o := t.s.ops.byID[r.OpID]
		if o == nil || seen[r.OpID] {
			stale = append(stale, r.OpID) // unknown, already done or reported twice
			continue
		}
		seen[r.OpID] = true
		if o.job != 0 {
			jobs[o.job] = true
		}
		if r.Err != nil {
			failed = append(failed, opFailure{failing[r.OpID], r.Err, r.BMPDown})
			continue
		}
		t.opDone(o, &c)
	}
	if err := t.noteUnknown(stale); err != nil {
		return err
	}
	// Successes first, then failures: a failure may power a board off that
	// a success in the same batch just powered on.
	if err := t.flush(&c); err != nil {
		return err
	}
	if err := t.failOps(failed); err != nil { // reachability.go
		return err
	}
	return t.settle(jobs)
}

// failingOps reads the rows of the open operations that failed.
func (t *tx) failingOps(results []OpResult) (map[int64]db.BmpOp, error) {
	var ids []int64
	for _, r := range results {
		if r.Err != nil && t.s.ops.byID[r.OpID] != nil {
			ids = append(ids, r.OpID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.q.GetOps(t.ctx, idList(ids))
	if err != nil {
		return nil, t.dbErr("read operations", err)
	}
	ops := make(map[int64]db.BmpOp, len(rows))
	for _, op := range rows {
		ops[op.ID] = op
	}
	return ops, nil
}

// noteUnknown logs outcomes for operations that never existed (those for
// operations already done are ignored quietly).
func (t *tx) noteUnknown(stale []int64) error {
	if len(stale) == 0 {
		return nil
	}
	rows, err := t.q.GetOps(t.ctx, idList(stale))
	if err != nil {
		return t.dbErr("read operations", err)
	}
	if len(rows) < len(stale) {
		t.logf("outcomes for unknown BMP operations ignored", "results", len(stale), "known", len(rows))
	}
	return nil
}

// opDone applies a successful operation to memory and notes the writes.
func (t *tx) opDone(o *openOp, c *completion) {
	c.ok = append(c.ok, o)
	if o.kind != OpPowerOn && o.kind != OpPowerOff {
		return
	}
	on := o.kind == OpPowerOn
	if c.power == nil {
		c.power = map[int64]bool{}
	}
	c.power[o.boardID] = on
	ref, live := t.s.mirror.boardIDs[o.boardID]
	if !live {
		if !on {
			c.retired = append(c.retired, o.boardID) // nothing waits for it any more
		}
		return
	}
	m := t.editMachine(ref.machine)
	d := &m.dyn[ref.index]
	d.power = on
	if on || d.waiting == 0 {
		return
	}
	if delay := t.settings().freeDelay; delay > 0 {
		d.freeAt = t.at + delay.Seconds()
		c.freeLate = append(c.freeLate, o.boardID)
		return
	}
	t.freeInMemory(m, ref.index)
	c.freed = append(c.freed, o.boardID)
}

// flush writes what a batch of successful outcomes changed.
func (t *tx) flush(c *completion) error {
	if len(c.ok) > 0 {
		if err := t.q.FinishOpsOK(t.ctx, db.FinishOpsOKParams{DoneAt: &t.at, Ids: idList(opIDs(c.ok))}); err != nil {
			return t.dbErr("finish operations", err)
		}
		for _, o := range c.ok {
			t.indexDone(o)
		}
	}
	// A board powered off and freed is written once.
	freed := make(map[int64]bool, len(c.freed)+len(c.retired))
	for _, id := range append(c.freed, c.retired...) {
		freed[id] = true
	}
	var on, off, offFreed []int64
	for id, p := range c.power {
		switch {
		case p:
			on = append(on, id)
		case freed[id]:
			offFreed = append(offFreed, id)
			delete(freed, id)
		default:
			off = append(off, id)
		}
	}
	for power, ids := range [][]int64{off, on} {
		if len(ids) == 0 {
			continue
		}
		err := t.q.SetBoardsPower(t.ctx, db.SetBoardsPowerParams{Power: int64(power), PowerChangedAt: &t.at, BoardIds: idList(ids)})
		if err != nil {
			return t.dbErr("set board power", err)
		}
	}
	if len(offFreed) > 0 {
		err := t.q.PowerOffAndFreeBoards(t.ctx, db.PowerOffAndFreeBoardsParams{PowerChangedAt: &t.at, BoardIds: idList(offFreed)})
		if err != nil {
			return t.dbErr("free boards", err)
		}
	}
	if len(freed) > 0 { // freed, then powered on again in the same batch
		if err := t.q.FreeBoards(t.ctx, idList(slices.Collect(maps.Keys(freed)))); err != nil {
			return t.dbErr("free boards", err)
		}
	}
	if len(c.freeLate) > 0 {
		at := t.at + t.settings().freeDelay.Seconds()
		if err := t.q.SetBoardsFreeAt(t.ctx, db.SetBoardsFreeAtParams{FreeAt: &at, BoardIds: idList(c.freeLate)}); err != nil {
			return t.dbErr("set board free time", err)
		}
	}
	return nil
}

// freeBoard returns a waiting board to the pool.
func (t *tx) freeBoard(m *machineState, i int) error {
	if err := t.q.FreeBoard(t.ctx, m.info[i].id); err != nil {
		return t.dbErr("free board", err)
	}
	t.freeInMemory(m, i)
	return nil
}

func (t *tx) freeInMemory(m *machineState, i int) {
	d := &m.dyn[i]
	d.waiting, d.waitingSince, d.freeAt = 0, 0, 0
	if d.job == 0 {
		m.occ.Use[i] = m.idleUse(i) // free unless out of service or its BMP is unreachable
	}
	t.bump(m)
	t.change.machine(m.name)
}

func (t *tx) finish(op db.BmpOp, outcome string, msg *string) error {
	err := t.q.FinishOp(t.ctx, db.FinishOpParams{DoneAt: &t.at, Outcome: &outcome, LastError: msg, ID: op.ID})
	if err != nil {
		return t.dbErr("finish operation", err)
	}
	if o := t.s.ops.byID[op.ID]; o != nil {
		t.indexDone(o)
	}
	return nil
}

func (t *tx) opFailed(op db.BmpOp, cause error) error {
	ref, live := t.s.mirror.boardIDs[op.BoardID]
	msg := cause.Error()
	if err := t.finish(op, "failed", &msg); err != nil {
		return err
	}
	reason := fmt.Sprintf("BMP %s failed: %s", op.Op, msg)
	t.logf("BMP operation failed", "op", op.ID, "kind", op.Op, "board_id", op.BoardID, "err", msg)
	if !live {
		return t.markRetiredOutOfService(op.BoardID, reason, msg)
	}
	return t.takeOutOfService(ref, reason, &msg)
}

func (t *tx) markRetiredOutOfService(boardID int64, reason, msg string) error {
	err := t.q.SetBoardOutOfService(t.ctx, db.SetBoardOutOfServiceParams{OutOfService: &reason,
		OutOfServiceAt: &t.at, LastError: &msg, ID: boardID})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	return nil
}

// takeOutOfService removes a board from use with the reason recorded; a
// job holding it goes back to the queue (spec §3: the client's job survives
// a sick board). Requests for the board not yet handed out are dropped; a
// board last known to be on is asked once to power off.
func (t *tx) takeOutOfService(ref boardRef, reason string, lastErr *string) error {
	m := t.editMachine(ref.machine)
	i := ref.index
	err := t.q.SetBoardOutOfService(t.ctx, db.SetBoardOutOfServiceParams{OutOfService: &reason,
		OutOfServiceAt: &t.at, LastError: lastErr, ID: m.info[i].id})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	old := m.dyn[i]
	m.dyn[i] = boardDyn{power: old.power, oos: nonEmpty(reason)}
	m.occ.Use[i] = allocator.Unavailable
	if err := t.dropPendingOps(m, i, old.oos == "" && old.power); err != nil {
		return err
	}
	if err := t.rebuildModel(m); err != nil {
		return err
	}
	t.change.machine(m.name)
	if old.job == 0 {
		return nil
	}
	return t.requeue(old.job, fmt.Sprintf("board %v: %s", m.board(i), reason))
}

// dropPendingOps supersedes a board's unclaimed requests, replacing them
// with a power-off when powerOff is set.
func (t *tx) dropPendingOps(m *machineState, i int, powerOff bool) error {
	if powerOff {
		return t.addOp(m, i, 0, OpPowerOff) // supersedes the rest
	}
	return t.supersede(t.unclaimedOf([]int64{m.info[i].id}, nil))
}

// rebuildModel refreshes the allocator view after dead boards, links or
// service changed.
func (t *tx) rebuildModel(m *machineState) error {
	model, err := buildModel(m)
	if err != nil {
		return t.s.internal("machine model", err)
	}
	m.model = model
	t.bump(m)
	return nil
}

// settle moves jobs whose BMP operations are all done from power to ready.
func (t *tx) settle(jobs map[int64]bool) error {
	ids := make([]int64, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := t.settleJob(id); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) settleJob(id int64) error {
	j := t.job(id)
	if j == nil || j.state != StatePower {
		return nil
	}
	if t.openOpsOfJob(id) > 0 {
		return nil
	}
	if err := t.q.SetJobReady(t.ctx, db.SetJobReadyParams{ReadyAt: &t.at, ID: id}); err != nil {
		return t.dbErr("set job ready", err)
	}
	j = t.editJob(id)
	j.state = StateReady
	t.change.job(id)
	t.logf("job ready", "job", id, "owner", j.owner, "power", j.power)
	return t.event(j, "ready")
}
