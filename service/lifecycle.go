package service

// Job life cycle inside a transaction (spec §3): queue entries, allocation,
// power requests, release of boards, destruction and history rows.

import (
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// event records a job's current state in its history.
func (t *tx) event(j *jobState, detail string) error {
	var power, machine *int64
	if j.hasBoards() {
		p := b2i(j.power)
		power = &p
	}
	if j.machine != 0 {
		machine = &j.machine
	}
	err := t.q.InsertJobEvent(t.ctx, db.InsertJobEventParams{JobID: j.id, At: t.at, State: int64(j.state),
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

// selects reports whether a request names machine m or all of m's tags.
func selects(r jobRequest, m *machineState) bool {
	if r.Machine != nil {
		return *r.Machine == m.name
	}
	for _, tag := range r.Tags {
		if !slices.Contains(m.tags, tag) {
			return false
		}
	}
	return true
}

// candidates are the machines, in priority order, that a job selects and
// that could hold it when empty.
func (t *tx) candidates(j *jobState) []*machineState {
	var out []*machineState
	for _, m := range t.machinesInOrder() {
		if selects(j.req, m) && m.model.Feasible(j.areq) {
			out = append(out, m)
		}
	}
	return out
}

// enqueue puts a job in a machine's queue at its place (job id order).
// Queues change in memory only; flushQueues writes their net change when
// the transaction ends, so that a job queued and allocated at once writes
// no queue row.
func (t *tx) enqueue(m *machineState, id int64) {
	mm := t.editQueue(m.id)
	if i, found := slices.BinarySearch(mm.queue, id); !found {
		mm.queue = slices.Insert(mm.queue, i, id)
		t.queuesChanged[m.id] = true
	}
}

// dequeue removes a job from one machine's queue.
func (t *tx) dequeue(m *machineState, id int64) {
	mm := t.editQueue(m.id)
	if i, found := slices.BinarySearch(mm.queue, id); found {
		mm.queue = slices.Delete(mm.queue, i, i+1)
		t.queuesChanged[m.id] = true
	}
}

// dequeueAll removes a job from every queue.
func (t *tx) dequeueAll(id int64) {
	for _, m := range t.machinesInOrder() {
		if m.queued(id) {
			t.dequeue(m, id)
		}
	}
}

// flushQueues writes to job_queue how the transaction changed the queues:
// the difference between each changed queue and the committed one.
func (t *tx) flushQueues() error {
	for id := range t.queuesChanged {
		var before []int64
		if m := t.s.mirror.byID[id]; m != nil {
			before = m.queue
		}
		added, removed := sortedDiff(before, t.machines[id].queue)
		for _, job := range added {
			if err := t.q.InsertQueueEntry(t.ctx, db.InsertQueueEntryParams{MachineID: id, JobID: job}); err != nil {
				return t.dbErr("queue job", err)
			}
		}
		for _, job := range removed {
			if err := t.q.DeleteQueueEntry(t.ctx, db.DeleteQueueEntryParams{MachineID: id, JobID: job}); err != nil {
				return t.dbErr("unqueue job", err)
			}
		}
	}
	return nil
}

// sortedDiff lists what is only in after and what is only in before (both
// ascending).
func sortedDiff(before, after []int64) (added, removed []int64) {
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || (i < len(before) && before[i] < after[j]):
			removed = append(removed, before[i])
			i++
		case i == len(before) || after[j] < before[i]:
			added = append(added, after[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// allocate gives a queued job the boards of a placement on machine m and
// asks for them to be powered on with the periphery links disabled.
func (t *tx) allocate(id int64, m *machineState, a allocator.Allocation) error {
	t.dequeueAll(id)
	j, mm := t.editJob(id), t.editMachine(m.id)
	if err := t.recordAllocation(j, mm, a); err != nil {
		return err
	}
	if err := t.assignBoards(j, mm, a.Boards); err != nil {
		return err
	}
	mm.occ.Hold(mm.model.m, a)
	t.bump(mm)
	j.state, j.power, j.machine, j.boards = StatePower, true, mm.id, slices.Clone(a.Boards)
	j.single, j.chipW, j.chipH, j.torus = a.Single, a.ChipWidth, a.ChipHeight, a.Torus
	if err := t.powerOps(mm, j, true, a.Periphery); err != nil {
		return err
	}
	t.change.job(id)
	t.change.machine(mm.name)
	t.logf("job allocated", "job", id, "owner", j.owner, "machine", mm.name, "boards", len(a.Boards))
	return t.event(j, "allocated on "+mm.name)
}

func (t *tx) recordAllocation(j *jobState, m *machineState, a allocator.Allocation) error {
	p := db.AllocateJobParams{ID: j.id, MachineID: &m.id, ChipWidth: ptr(int64(a.ChipWidth)),
		ChipHeight: ptr(int64(a.ChipHeight)), Torus: ptr(int64(a.Torus)), AllocatedAt: &t.at}
	if !a.Single {
		p.BlockX, p.BlockY, p.BlockW, p.BlockH = ptr(int64(a.X0)), ptr(int64(a.Y0)), ptr(int64(a.W)), ptr(int64(a.H))
	}
	if err := t.q.AllocateJob(t.ctx, p); err != nil {
		return t.dbErr("allocate job", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// assignBoards gives boards of m to a job, with their history rows.
func (t *tx) assignBoards(j *jobState, m *machineState, boards []geometry.Board) error {
	ids := make([]int64, len(boards))
	for k, b := range boards {
		i := m.index(b)
		ids[k] = m.info[i].id
		m.dyn[i].job = j.id
	}
	list := idList(ids)
	if err := t.q.AssignBoards(t.ctx, db.AssignBoardsParams{JobID: &j.id, BoardIds: list}); err != nil {
		return t.dbErr("assign boards", err)
	}
	err := t.q.InsertBoardAllocations(t.ctx, db.InsertBoardAllocationsParams{JobID: j.id, AllocatedAt: t.at, BoardIds: list})
	if err != nil {
		return t.dbErr("record board allocations", err)
	}
	return nil
}

// powerOps queues the BMP operations that switch a job's boards: power on
// and then disable the periphery links, or power off (links untouched).
func (t *tx) powerOps(m *machineState, j *jobState, on bool, periphery []allocator.BoardLink) error {
	idx := make([]int, len(j.boards))
	for k, b := range j.boards {
		idx[k] = m.index(b)
	}
	kind := OpPowerOff
	if on {
		kind = OpPowerOn
	}
	if err := t.queueOps(m, idx, j.id, kind, nil); err != nil {
		return err
	}
	if !on || len(periphery) == 0 {
		return nil
	}
	idx, masks := linksPerBoard(m, periphery)
	return t.queueOps(m, idx, j.id, OpLinkOff, masks)
}

// linksPerBoard groups links by board, in the order the boards first
// appear: one link operation per board.
func linksPerBoard(m *machineState, links []allocator.BoardLink) (idx []int, masks []int64) {
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

// periphery lists every link from a board of the set to a board outside it
// (geometry.md §4.7), sorted by board then link.
func periphery(m *machineState, boards []geometry.Board) []allocator.BoardLink {
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

// addOp queues a power operation (kind OpPowerOn or OpPowerOff) for board
// i of m. Per board the last request wins: it supersedes every unclaimed
// older request for the board; claimed ones finish first (ClaimBMPOps
// keeps the order).
func (t *tx) addOp(m *machineState, i int, job int64, kind OpKind) error {
	return t.queueOps(m, []int{i}, job, kind, nil)
}

func jobRef(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// requestPower switches a job's boards on or off; the job is in state
// power until the BMP operations are done.
func (t *tx) requestPower(id int64, on bool) error {
	j := t.editJob(id)
	m := t.editMachine(j.machine)
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
func (t *tx) releaseBoards(j *jobState) error {
	if !j.hasBoards() {
		return nil
	}
	m := t.editMachine(j.machine)
	var idx []int
	var ids []int64
	for _, b := range j.boards {
		i := m.index(b)
		if d := &m.dyn[i]; d.job == j.id { // else taken out of service meanwhile
			// oos: an operator may have taken the held board out of
			// service (admin_ops.go); it stays out once freed, as its row.
			*d = boardDyn{waiting: j.id, waitingSince: t.at, power: d.power, oos: d.oos}
			m.occ.Use[i] = allocator.Waiting
			idx, ids = append(idx, i), append(ids, m.info[i].id)
		}
	}
	err := t.q.SetBoardsWaiting(t.ctx, db.SetBoardsWaitingParams{WaitingJobID: &j.id, WaitingSince: &t.at, BoardIds: idList(ids)})
	if err != nil {
		return t.dbErr("release boards", err)
	}
	if err := t.queueOps(m, idx, j.id, OpPowerOff, nil); err != nil {
		return err
	}
	err = t.q.CloseBoardAllocationsOfJob(t.ctx, db.CloseBoardAllocationsOfJobParams{FreedAt: &t.at, JobID: j.id})
	if err != nil {
		return t.dbErr("close board allocations", err)
	}
	t.bump(m)
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
	} else if err := t.releaseBoards(j); err != nil {
		return err
	}
	if err := t.q.DestroyJob(t.ctx, db.DestroyJobParams{DestroyReason: reason, DestroyedAt: &t.at, ID: id}); err != nil {
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
	t.change.job(id)
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
// original place (same id), or destroys it if no machine can hold it now.
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
	j.single, j.chipW, j.chipH, j.torus = false, 0, 0, geometry.WrapNone
	t.change.job(id)
	t.logf("job requeued", "job", id, "owner", j.owner, "why", why)
	if err := t.event(j, "requeued: "+why); err != nil {
		return err
	}
	return t.queueOrCancel(j, ReasonConfigFailed)
}
