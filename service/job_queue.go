package service

// The queues. A queued job waits on every machine that selects it and
// could ever hold it (with its working boards, every board free); each
// machine serves its queue in job id (creation) order, strictly (fifo) or
// with reservations (job_reserve.go). Queue service runs at the end of
// every transaction, in passes over the machines in priority order, each
// machine allocating at most one job per pass, until a pass allocates
// nothing: a commit never leaves free boards and a runnable job side by
// side.

import (
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// selects reports whether a request names machine m or all of m's tags.
func selects(r jobRequest, m *machine) bool {
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
func (t *tx) candidates(j *job) []*machine {
	var out []*machine
	for _, m := range t.machines() {
		if selects(j.req, m) && m.model.Feasible(j.areq) {
			out = append(out, m)
		}
	}
	return out
}

// enqueue puts a job in a machine's queue at its place (job id order).
// Queues change in memory; writeQueues writes their net change when the
// transaction ends, so that a job queued and allocated at once writes no
// queue row.
//
// A job put anywhere but at the end (sent back to its place) counts as a
// gain of room: the reserve policy's hints assume that jobs they have not
// seen come after those they have.
func (t *tx) enqueue(m *machine, id int64) {
	mm := t.edit(m.id)
	if i, found := slices.BinarySearch(mm.queue, id); !found {
		if i < len(mm.queue) {
			t.bumpGain(mm)
		}
		mm.queue = slices.Insert(slices.Clip(mm.queue), i, id) // a new slice
		t.queuesChanged[m.id] = true
	}
}

// dequeue removes a job from one machine's queue.
func (t *tx) dequeue(m *machine, id int64) {
	mm := t.edit(m.id)
	if i, found := slices.BinarySearch(mm.queue, id); found {
		mm.queue = slices.Concat(mm.queue[:i], mm.queue[i+1:]) // a new slice
		t.queuesChanged[m.id] = true
	}
}

// dequeueAll removes a job from every queue.
func (t *tx) dequeueAll(id int64) {
	for _, m := range t.machines() {
		if m.queued(id) {
			t.dequeue(m, id)
		}
	}
}

// writeQueues writes to job_queue how the transaction changed the queues:
// the difference between each changed queue and the committed one.
func (t *tx) writeQueues() error {
	for id := range t.queuesChanged {
		var before []int64
		if m := t.base.machine(id); m != nil {
			before = m.queue
		}
		added, removed := sortedDiff(before, t.edited[id].queue)
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

// serveHead is one pass of the fifo policy on m: it tries to allocate the
// head of m's queue (headOf). A head that does not fit is noted in m's
// hint (job_reserve.go), so that later passes do not try it again until
// the machine gains room.
func (t *tx) serveHead(m *machine) (bool, error) {
	if ok, _ := t.machineAccepts(m); !ok {
		return false, nil
	}
	j, _ := t.headOf(m)
	if j == nil || t.hint(m).whole[j.areq] {
		return false, nil
	}
	a, ok := allocator.Place(m.model.m, m.occ, j.areq)
	if !ok {
		t.failed(m, j.areq, true, allocator.Region{})
		return false, nil
	}
	return true, t.allocate(j.id, m, a)
}
