package service

// The job life cycle: allocation, power requests, release of boards,
// re-queueing and destruction, with their history rows.

import (
	"context"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// PowerOnJob (re)powers a job's boards: power on, then its periphery links
// disabled; the job is in state power until that is done. Queued, unknown
// and destroyed jobs are left alone. It counts as a keepalive.
func (s *Service) PowerOnJob(ctx context.Context, id int64, host string) error {
	return s.powerJob(ctx, id, host, true)
}

// PowerOffJob powers a job's boards off; it keeps them and is ready (with
// power false) once that is done. It counts as a keepalive.
func (s *Service) PowerOffJob(ctx context.Context, id int64, host string) error {
	return s.powerJob(ctx, id, host, false)
}

func (s *Service) powerJob(ctx context.Context, id int64, host string, on bool) error {
	j := s.world.Load().job(id)
	if j == nil {
		return nil
	}
	s.touch(ctx, id, host)
	if !j.hasBoards() {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		if j := t.job(id); j != nil && j.hasBoards() {
			return t.requestPower(id, on)
		}
		return nil
	})
}

// DestroyJob destroys a job; reason nil = none given. Destroying twice keeps
// the first reason; unknown and destroyed ids are not errors.
func (s *Service) DestroyJob(ctx context.Context, id int64, reason *string, host string) error {
	if s.world.Load().job(id) == nil {
		return nil
	}
	s.touch(ctx, id, host)
	return s.write(ctx, func(t *tx) error {
		if t.job(id) == nil {
			return nil
		}
		return t.destroyJob(id, reason, "destroyed by client")
	})
}

// event records a job's current state in its history.
func (t *tx) event(j *job, detail string) error {
	var power, machine *int64
	if j.hasBoards() {
		p := b2i(j.power)
		power = &p
	}
	if j.machine != 0 {
		machine = &j.machine
	}
	err := t.q.InsertJobEvent(t.ctx, db.InsertJobEventParams{JobID: j.id, At: unix(t.now), State: int64(j.state),
		Power: power, MachineID: machine, Detail: strPtr(detail)})
	if err != nil {
		return t.dbErr("insert job event", err)
	}
	return nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

func jobRef(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// allocate gives a queued job the boards of a placement on machine m and
// asks for them to be powered on with the periphery links disabled.
func (t *tx) allocate(id int64, m *machine, a allocator.Allocation) error {
	t.dequeueAll(id)
	j := t.editJob(id)
	wait := t.now.Sub(j.queuedSince)
	j.state, j.power, j.machine, j.boards = StatePower, true, m.id, slices.Clone(a.Boards)
	j.single, j.chipW, j.chipH, j.torus, j.block = a.Single, a.ChipWidth, a.ChipHeight, a.Torus, a.Footprint()
	t.forgetReservationsOf(id)
	if err := t.recordAllocation(j, a); err != nil {
		return err
	}
	if err := t.assignBoards(j, m, a.Boards); err != nil {
		return err
	}
	m = t.machine(m.id)
	if err := t.powerOps(m, j, true, a.Periphery); err != nil {
		return err
	}
	t.change.job(id)
	t.change.machine(m.name)
	t.change.allocated(Allocation{Job: id, Machine: m.name, Wait: wait})
	t.logf("job allocated", "job", id, "owner", j.owner, "machine", m.name, "boards", len(a.Boards), "waited", wait)
	return t.event(j, "allocated on "+m.name)
}

func (t *tx) recordAllocation(j *job, a allocator.Allocation) error {
	at := unix(t.now)
	p := db.AllocateJobParams{ID: j.id, MachineID: &j.machine, ChipWidth: ptr(int64(a.ChipWidth)),
		ChipHeight: ptr(int64(a.ChipHeight)), Torus: ptr(int64(a.Torus)), AllocatedAt: &at}
	if !a.Single {
		p.BlockX, p.BlockY, p.BlockW, p.BlockH = ptr(int64(a.X0)), ptr(int64(a.Y0)), ptr(int64(a.W)), ptr(int64(a.H))
	}
	if err := t.q.AllocateJob(t.ctx, p); err != nil {
		return t.dbErr("allocate job", err)
	}
	return nil
}

// assignBoards gives boards of m to a job, with their history rows.
func (t *tx) assignBoards(j *job, m *machine, boards []geometry.Board) error {
	ids := make([]int64, len(boards))
	for k, b := range boards {
		i := m.index(b)
		ids[k] = m.info[i].id
		d := m.dyn(i)
		d.job = j.id
		t.setBoard(m.id, i, d)
	}
	list := idList(ids)
	if err := t.q.AssignBoards(t.ctx, db.AssignBoardsParams{JobID: &j.id, BoardIds: list}); err != nil {
		return t.dbErr("assign boards", err)
	}
	err := t.q.InsertBoardAllocations(t.ctx, db.InsertBoardAllocationsParams{JobID: j.id, AllocatedAt: unix(t.now), BoardIds: list})
	if err != nil {
		return t.dbErr("record board allocations", err)
	}
	return nil
}

// powerOps requests the BMP operations that switch a job's boards: power
// on and then disable the periphery links, or power off (links untouched).
func (t *tx) powerOps(m *machine, j *job, on bool, periphery []allocator.BoardLink) error {
	idx := make([]int, len(j.boards))
	for k, b := range j.boards {
		idx[k] = m.index(b)
	}
	if !on {
		return t.requestOps(m, idx, j.id, OpPowerOff, nil)
	}
	ops := newOps(m, idx, j.id, OpPowerOn, nil)
	if len(periphery) > 0 {
		idx, masks := linksPerBoard(m, periphery)
		ops = append(ops, newOps(m, idx, j.id, OpLinkOff, masks)...)
	}
	return t.insertOps(ops)
}

// linksPerBoard groups links by board, in the order the boards first
// appear: one link operation per board.
func linksPerBoard(m *machine, links []allocator.BoardLink) (idx []int, masks []int64) {
	at := make(map[int]int, len(links)) // board index -> position in idx
	for _, bl := range links {
		i := m.index(bl.Board)
		k, seen := at[i]
		if !seen {
			k = len(idx)
			at[i] = k
			idx, masks = append(idx, i), append(masks, 0)
		}
		masks[k] |= linkMask(bl.Link)
	}
	return idx, masks
}

// periphery lists every link from a board of the set to a board outside
// it, sorted by board then link.
func periphery(m *machine, boards []geometry.Board) []allocator.BoardLink {
	in := make(map[geometry.Board]bool, len(boards))
	for _, b := range boards {
		in[b] = true
	}
	var out []allocator.BoardLink
	for _, b := range boards {
		for _, l := range geometry.AllLinks {
			if to, _ := geometry.BoardDownLink(b, l, m.width, m.height); !in[to] {
				out = append(out, allocator.BoardLink{Board: b, Link: l})
			}
		}
	}
	return out
}

// requestPower switches a job's boards on or off; the job is in state
// power until the BMP operations are done.
func (t *tx) requestPower(id int64, on bool) error {
	j := t.editJob(id)
	m := t.machine(j.machine)
	j.state, j.power = StatePower, on
	if err := t.q.SetJobPowering(t.ctx, db.SetJobPoweringParams{Power: ptr(b2i(on)), ID: id}); err != nil {
		return t.dbErr("set job power", err)
	}
	var links []allocator.BoardLink
	if on {
		links = periphery(m, j.boards)
	}
	if err := t.powerOps(m, j, on, links); err != nil {
		return err
	}
	t.change.job(id)
	detail := "power off requested"
	if on {
		detail = "power on requested"
	}
	return t.event(j, detail)
}

// releaseBoards lets go of a job's boards: each waits for its power-off
// before it returns to the pool.
func (t *tx) releaseBoards(j *job) error {
	if !j.hasBoards() {
		return nil
	}
	m := t.machine(j.machine)
	var idx []int
	var ids []int64
	for _, b := range j.boards {
		i := m.index(b)
		if d := m.dyn(i); d.job == j.id { // else taken out of service meanwhile
			// oos: an operator may have taken the held board out of
			// service; it stays out once freed, as its row says.
			t.setBoard(m.id, i, boardDyn{waiting: j.id, waitingSince: t.now, power: d.power, oos: d.oos})
			idx, ids = append(idx, i), append(ids, m.info[i].id)
		}
	}
	at := unix(t.now)
	err := t.q.SetBoardsWaiting(t.ctx, db.SetBoardsWaitingParams{WaitingJobID: &j.id, WaitingSince: &at, BoardIds: idList(ids)})
	if err != nil {
		return t.dbErr("release boards", err)
	}
	if err := t.requestOps(t.machine(m.id), idx, j.id, OpPowerOff, nil); err != nil {
		return err
	}
	err = t.q.CloseBoardAllocationsOfJob(t.ctx, db.CloseBoardAllocationsOfJobParams{FreedAt: &at, JobID: j.id})
	if err != nil {
		return t.dbErr("close board allocations", err)
	}
	t.change.machine(m.name)
	j.boards = nil
	return nil
}

// destroyJob destroys a live job on request (client, keepalive, operator):
// a job that is still queued gets "Cancelled: " in front of the reason.
func (t *tx) destroyJob(id int64, reason *string, why string) error {
	j := t.job(id)
	if j == nil {
		return nil
	}
	if j.state == StateQueued {
		r := CancelledPrefix
		if reason != nil {
			r += *reason
		}
		reason = &r
	}
	return t.destroy(id, reason, why)
}

// destroy ends a live job with exactly this reason: out of its queues, or
// its boards released for power-off.
func (t *tx) destroy(id int64, reason *string, why string) error {
	j := t.editJob(id)
	if j == nil {
		return nil
	}
	if j.state == StateQueued {
		t.dequeueAll(id)
		t.forgetReservationsOf(id)
	} else if err := t.releaseBoards(j); err != nil {
		return err
	}
	if err := t.q.DestroyJob(t.ctx, db.DestroyJobParams{DestroyReason: reason, DestroyedAt: ptr(unix(t.now)), ID: id}); err != nil {
		return t.dbErr("destroy job", err)
	}
	j.state = StateDestroyed
	detail := why
	if reason != nil {
		detail += ": " + *reason
	}
	if err := t.event(j, detail); err != nil {
		return err
	}
	t.endJob(id)
	t.logf("job destroyed", "job", id, "owner", j.owner, "reason", derefOr(reason, ""), "why", why)
	return nil
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// requeue sends a job whose boards failed back to the queues at its
// original place (same id), or destroys it if no machine could ever hold
// it any more.
func (t *tx) requeue(id int64, why string) error {
	j := t.editJob(id)
	if j == nil || j.state == StateQueued {
		return nil
	}
	if err := t.releaseBoards(j); err != nil {
		return err
	}
	if err := t.q.RequeueJob(t.ctx, id); err != nil {
		return t.dbErr("requeue job", err)
	}
	j.state, j.power, j.machine, j.boards = StateQueued, false, 0, nil
	j.single, j.chipW, j.chipH, j.torus, j.block = false, 0, 0, geometry.WrapNone, allocator.Region{}
	j.queuedSince = t.now
	t.change.job(id)
	t.logf("job requeued", "job", id, "owner", j.owner, "why", why)
	if err := t.event(j, "requeued: "+why); err != nil {
		return err
	}
	return t.queueOrCancel(j, ReasonConfigFailed)
}
