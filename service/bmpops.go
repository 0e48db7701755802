package service

// The BMP workers' side: which BMPs to serve, claiming operations, and
// recording their outcomes (spec §3, §6).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
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
	pending, err := s.rq.ListClaimableOps(ctx, bmpID)
	if err != nil {
		return nil, s.internal("list operations", err)
	}
	if len(pending) == 0 {
		return nil, nil // the common case: no write transaction
	}
	var ops []BMPOp
	err = s.write(ctx, func(t *tx) error {
		ops, err = t.claim(bmpID)
		return err
	})
	return ops, err
}

func (t *tx) claim(bmpID int64) ([]BMPOp, error) {
	rows, err := t.q.ListClaimableOps(t.ctx, bmpID)
	if err != nil {
		return nil, t.dbErr("list operations", err)
	}
	ops := make([]BMPOp, 0, len(rows))
	for _, r := range rows {
		if err := t.q.ClaimOp(t.ctx, db.ClaimOpParams{ClaimedAt: &t.at, ID: r.ID}); err != nil {
			return nil, t.dbErr("claim operation", err)
		}
		op := BMPOp{ID: r.ID, BMPID: bmpID, Board: geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)},
			BoardNum: intOf(r.BoardNum), JobID: r.JobID, Kind: OpKind(r.Op)}
		if r.Link != nil {
			op.Link = geometry.Link(*r.Link)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// CompleteBMPOps records outcomes in one transaction: boards' power, jobs
// moving from power to ready, failed boards out of service and their jobs
// re-queued, freed boards returned to the pool and queues served. Results
// for operations that are already done (superseded, or redone after a
// restart) are ignored.
func (s *Service) CompleteBMPOps(ctx context.Context, results []OpResult) error {
	if len(results) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		jobs := map[int64]bool{}
		for _, r := range results {
			if err := t.complete(r, jobs); err != nil {
				return err
			}
		}
		return t.settle(jobs)
	})
}

func (t *tx) complete(r OpResult, jobs map[int64]bool) error {
	op, err := t.q.GetOp(t.ctx, r.OpID)
	if errors.Is(err, sql.ErrNoRows) {
		t.logf("outcome for an unknown BMP operation ignored", "op", r.OpID)
		return nil
	}
	if err != nil {
		return t.dbErr("read operation", err)
	}
	if op.DoneAt != nil {
		return nil
	}
	if op.JobID != nil {
		jobs[*op.JobID] = true
	}
	ref, live := t.s.mirror.boardIDs[op.BoardID]
	if r.Err != nil {
		return t.opFailed(op, ref, live, r.Err)
	}
	return t.opDone(op, ref, live)
}

func (t *tx) finish(op db.BmpOp, outcome string, msg *string) error {
	err := t.q.FinishOp(t.ctx, db.FinishOpParams{DoneAt: &t.at, Outcome: &outcome, LastError: msg, ID: op.ID})
	if err != nil {
		return t.dbErr("finish operation", err)
	}
	return nil
}

func (t *tx) opDone(op db.BmpOp, ref boardRef, live bool) error {
	if err := t.finish(op, "ok", nil); err != nil {
		return err
	}
	kind := OpKind(op.Op)
	if kind != OpPowerOn && kind != OpPowerOff {
		return nil
	}
	on := kind == OpPowerOn
	if err := t.q.SetBoardPower(t.ctx, db.SetBoardPowerParams{Power: b2i(on), PowerChangedAt: &t.at, ID: op.BoardID}); err != nil {
		return t.dbErr("set board power", err)
	}
	if !live {
		return t.retiredBoardDone(op.BoardID, on)
	}
	m := t.editMachine(ref.machine)
	m.dyn[ref.index].power = on
	if !on && m.dyn[ref.index].waiting != 0 {
		return t.poweredOff(m, ref.index)
	}
	return nil
}

// retiredBoardDone: a board of a removed machine is off; nothing waits for
// it any more.
func (t *tx) retiredBoardDone(boardID int64, on bool) error {
	if on {
		return nil
	}
	if err := t.q.FreeBoard(t.ctx, boardID); err != nil {
		return t.dbErr("free board", err)
	}
	return nil
}

// poweredOff: a waiting board's power-off completed; it returns to the pool
// now, or after the free delay (Tick).
func (t *tx) poweredOff(m *machineState, i int) error {
	delay := t.settings().freeDelay
	if delay <= 0 {
		return t.freeBoard(m, i)
	}
	at := t.at + delay.Seconds()
	if err := t.q.SetBoardFreeAt(t.ctx, db.SetBoardFreeAtParams{FreeAt: &at, ID: m.info[i].id}); err != nil {
		return t.dbErr("set board free time", err)
	}
	m.dyn[i].freeAt = at
	return nil
}

// freeBoard returns a waiting board to the pool.
func (t *tx) freeBoard(m *machineState, i int) error {
	if err := t.q.FreeBoard(t.ctx, m.info[i].id); err != nil {
		return t.dbErr("free board", err)
	}
	d := &m.dyn[i]
	d.waiting, d.waitingSince, d.freeAt = 0, 0, 0
	if d.oos == "" && d.job == 0 {
		m.occ.Use[i] = allocator.Free
	}
	t.bump(m)
	t.change.machine(m.name)
	return nil
}

func (t *tx) opFailed(op db.BmpOp, ref boardRef, live bool, cause error) error {
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
		return t.addOp(m, i, 0, OpPowerOff, 0) // supersedes the rest
	}
	err := t.q.SupersedeOpenOpsOfBoard(t.ctx, db.SupersedeOpenOpsOfBoardParams{DoneAt: &t.at, BoardID: m.info[i].id})
	if err != nil {
		return t.dbErr("supersede operations", err)
	}
	return nil
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
	open, err := t.q.CountOpenOpsOfJob(t.ctx, &id)
	if err != nil {
		return t.dbErr("count operations", err)
	}
	if open > 0 {
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
