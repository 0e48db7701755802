package service

// Recording the outcomes of BMP operations: boards' power, jobs moving from
// power to ready, boards returned to the pool after their power-off, and
// failures: a board fault takes the board out of service, a BMP that did
// not answer is marked unreachable; either way a job waiting for the
// operation goes back to the queue.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
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

// CompleteBMPOps records outcomes in one transaction: boards' power, jobs
// moving from power to ready, failed boards out of service (or, for
// outcomes with BMPDown, their BMP marked unreachable) and their jobs
// re-queued, freed boards returned to the pool and queues served. Results
// for operations that are already done (superseded, reported before, or
// redone after a restart) are ignored.
func (s *Service) CompleteBMPOps(ctx context.Context, results []OpResult) error {
	if len(results) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error { return t.completeAll(results) })
}

// completion collects what a batch of successful outcomes changes, for a
// few bulk statements.
type completion struct {
	ok       []*op
	power    map[int64]bool // board id -> power now (the last outcome wins)
	freed    []int64        // waiting boards whose power-off completed (free now)
	freeLate []int64        // ... that wait for the free delay
	retired  []int64        // boards of removed machines now off
}

// opFailure is the outcome of a failed operation.
type opFailure struct {
	op      *op
	err     error
	bmpDown bool // the BMP did not answer (OpResult.BMPDown)
}

func (t *tx) completeAll(results []OpResult) error {
	var c completion
	var failed []opFailure
	var stale []int64
	seen := make(map[int64]bool, len(results))
	jobs := map[int64]bool{}
	bmps := map[int64]bool{}
	for _, r := range results {
		o := t.op(r.OpID)
		if o == nil || seen[r.OpID] {
			stale = append(stale, r.OpID) // unknown, already done or reported twice
			continue
		}
		seen[r.OpID] = true
		bmps[o.bmpID] = true
		if o.job != 0 {
			jobs[o.job] = true
		}
		if r.Err != nil {
			failed = append(failed, opFailure{o, r.Err, r.BMPDown})
			continue
		}
		t.opDone(o, &c)
	}
	t.noteUnknown(stale)
	// Successes first, then failures: a failure may power a board off that
	// a success in the same batch just powered on.
	if err := t.recordDone(&c); err != nil {
		return err
	}
	if err := t.failOps(failed); err != nil {
		return err
	}
	if err := t.settle(jobs); err != nil {
		return err
	}
	t.wakeWorkers(bmps)
	return nil
}

// wakeWorkers tells the workers of these BMPs when operations held back by
// the ones just done can now be claimed.
func (t *tx) wakeWorkers(bmps map[int64]bool) {
	for bmpID := range bmps {
		if slices.ContainsFunc(t.opsOf(bmpID), func(o *op) bool { return o.claimedAt.IsZero() }) {
			t.change.bmp(bmpID)
		}
	}
}

// noteUnknown notes outcomes for operations that are not open: already
// ended (a lease that ran out, a second report) or never made. Finished
// operations leave no row, so the two cannot be told apart; neither
// changes anything.
func (t *tx) noteUnknown(stale []int64) {
	if len(stale) > 0 {
		t.logAt(slog.LevelDebug, "outcomes for operations that are not open ignored", "results", len(stale))
	}
}

// opDone applies a successful operation to memory and notes the writes.
func (t *tx) opDone(o *op, c *completion) {
	c.ok = append(c.ok, o)
	if !o.isPower() {
		return
	}
	on := o.kind == OpPowerOn
	if c.power == nil {
		c.power = map[int64]bool{}
	}
	c.power[o.boardID] = on
	ref, live := t.boardRef(o.boardID)
	if !live {
		if !on {
			c.retired = append(c.retired, o.boardID) // nothing waits for it any more
		}
		return
	}
	d := t.machine(ref.machine).dyn(ref.index)
	d.power = on
	if !on && d.waiting != 0 {
		if delay := t.currentSettings().freeDelay; delay > 0 {
			d.freeAt = t.now.Add(delay)
			c.freeLate = append(c.freeLate, o.boardID)
		} else {
			d.waiting, d.waitingSince, d.freeAt = 0, time.Time{}, time.Time{}
			c.freed = append(c.freed, o.boardID)
			t.change.machine(t.machine(ref.machine).name)
		}
	}
	t.setBoard(ref.machine, ref.index, d)
}

// recordDone writes what a batch of successful outcomes changed.
func (t *tx) recordDone(c *completion) error {
	if err := t.endOps(c.ok, "finish operations"); err != nil {
		return err
	}
	at := unix(t.now)
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
		err := t.q.SetBoardsPower(t.ctx, db.SetBoardsPowerParams{Power: int64(power), PowerChangedAt: &at, BoardIds: idList(ids)})
		if err != nil {
			return t.dbErr("set board power", err)
		}
	}
	if len(offFreed) > 0 {
		err := t.q.PowerOffAndFreeBoards(t.ctx, db.PowerOffAndFreeBoardsParams{PowerChangedAt: &at, BoardIds: idList(offFreed)})
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
		freeAt := unix(t.now.Add(t.currentSettings().freeDelay))
		if err := t.q.SetBoardsFreeAt(t.ctx, db.SetBoardsFreeAtParams{FreeAt: &freeAt, BoardIds: idList(c.freeLate)}); err != nil {
			return t.dbErr("set board free time", err)
		}
	}
	return nil
}

// freeBoard returns a waiting board to the pool.
func (t *tx) freeBoard(m *machine, i int) error {
	if err := t.q.FreeBoard(t.ctx, m.info[i].id); err != nil {
		return t.dbErr("free board", err)
	}
	d := m.dyn(i)
	d.waiting, d.waitingSince, d.freeAt = 0, time.Time{}, time.Time{}
	t.setBoard(m.id, i, d)
	t.change.machine(m.name)
	return nil
}

// finish ends a failed operation; what the failure means for its board,
// BMP and job is recorded by the caller.
func (t *tx) finish(o *op) error { return t.endOps([]*op{o}, "finish operation") }

// failOps records failed operations. The BMPs that did not answer are
// marked unreachable first, so that jobs re-queued here do not get their
// boards again; board faults take their boards out of service (opFailed).
// Jobs still waiting for other operations of those BMPs go back to the
// queue last.
func (t *tx) failOps(failed []opFailure) error {
	var down []int64
	for _, f := range failed {
		if !f.bmpDown || slices.Contains(down, f.op.bmpID) {
			continue
		}
		down = append(down, f.op.bmpID)
		if err := t.bmpDown(f.op.bmpID, f.err.Error()); err != nil {
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

// opFailed records a board fault: the board is taken out of service.
func (t *tx) opFailed(o *op, cause error) error {
	msg := cause.Error()
	if err := t.finish(o); err != nil {
		return err
	}
	reason := fmt.Sprintf("BMP %s failed: %s", o.kind, msg)
	t.logAt(slog.LevelWarn, "BMP operation failed; the board is taken out of service", "op", o.id, "kind", o.kind,
		"board_id", o.boardID, "err", msg)
	ref, live := t.boardRef(o.boardID)
	if !live {
		return t.markRetiredOutOfService(o.boardID, reason, msg)
	}
	return t.takeOutOfService(ref, reason, &msg)
}

func (t *tx) markRetiredOutOfService(boardID int64, reason, msg string) error {
	err := t.q.SetBoardOutOfService(t.ctx, db.SetBoardOutOfServiceParams{OutOfService: &reason,
		OutOfServiceAt: ptr(unix(t.now)), LastError: &msg, ID: boardID})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	return nil
}

// takeOutOfService removes a board from use with the reason recorded; a
// job holding it goes back to the queue (the client's job survives a sick
// board). Requests for the board that no worker holds are dropped; a board
// last known to be on is asked once to power off.
func (t *tx) takeOutOfService(ref boardRef, reason string, lastErr *string) error {
	m, i := t.machine(ref.machine), ref.index
	err := t.q.SetBoardOutOfService(t.ctx, db.SetBoardOutOfServiceParams{OutOfService: &reason,
		OutOfServiceAt: ptr(unix(t.now)), LastError: lastErr, ID: m.info[i].id})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	old := m.dyn(i)
	t.setBoard(m.id, i, boardDyn{power: old.power, oos: nonEmpty(reason)})
	if err := t.dropPendingOps(t.machine(m.id), i, old.oos == "" && old.power); err != nil {
		return err
	}
	if err := t.rebuildModel(t.edit(m.id)); err != nil {
		return err
	}
	t.change.machine(m.name)
	if old.job == 0 {
		return nil
	}
	return t.requeue(old.job, fmt.Sprintf("board %v: %s", m.board(i), reason))
}

// dropPendingOps supersedes a board's requests that no worker holds,
// replacing them with a power-off when powerOff is set.
func (t *tx) dropPendingOps(m *machine, i int, powerOff bool) error {
	if powerOff {
		return t.requestOps(m, []int{i}, 0, OpPowerOff, nil) // supersedes the rest
	}
	var drop []*op
	for _, o := range t.opsOfBoard(m.info[i].bmpID, m.info[i].id) {
		if !o.inFlight(t.now) {
			drop = append(drop, o)
		}
	}
	return t.supersede(drop)
}

// opUnanswered records an operation whose BMP did not answer. The board is
// not blamed: it stays in service. The job the operation was for goes back
// to the queue, as for any failure; a power-off is asked again unless a
// later request for the board is pending, to be carried out once the BMP
// answers (until then a released board waits for it, or the power-off
// grace frees it). A board of a removed machine is not asked again (as for
// its other failures): nothing can be given it any more.
func (t *tx) opUnanswered(o *op, cause error) error {
	msg := cause.Error()
	if err := t.finish(o); err != nil {
		return err
	}
	t.logAt(slog.LevelWarn, "BMP operation failed: the BMP did not answer", "op", o.id, "kind", o.kind, "board_id", o.boardID, "err", msg)
	ref, live := t.boardRef(o.boardID)
	if !live {
		return nil
	}
	m, i := t.machine(ref.machine), ref.index
	if d := m.dyn(i); d.job != 0 {
		if o.job != d.job {
			return nil // someone else's board now; its own operations decide
		}
		return t.requeue(d.job, fmt.Sprintf("board %v: the BMP did not answer: %s", m.board(i), msg))
	}
	if o.kind != OpPowerOff || len(t.opsOfBoard(o.bmpID, o.boardID)) > 0 {
		return nil // the last request wins
	}
	return t.requestOps(m, []int{i}, m.dyn(i).waiting, OpPowerOff, nil)
}

// settle moves jobs whose BMP operations are all done from power to ready.
func (t *tx) settle(jobs map[int64]bool) error {
	for _, id := range slices.Sorted(maps.Keys(jobs)) {
		j := t.job(id)
		if j == nil || j.state != StatePower || t.openOpsOfJob(j) > 0 {
			continue
		}
		if err := t.q.SetJobReady(t.ctx, db.SetJobReadyParams{ReadyAt: ptr(unix(t.now)), ID: id}); err != nil {
			return t.dbErr("set job ready", err)
		}
		j = t.editJob(id)
		j.state = StateReady
		t.change.job(id)
		t.logf("job ready", "job", id, "owner", j.owner, "power", j.power)
		if err := t.event(j, "ready"); err != nil {
			return err
		}
	}
	return nil
}
