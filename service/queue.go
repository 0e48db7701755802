package service

// Serving the queues (allocation.md "Serving the queues"): in passes over
// the machines in priority order, each machine tries the head of its queue
// once per pass; passes repeat until one allocates nothing. It runs at the
// end of every transaction, so a commit never leaves free boards and a
// runnable head side by side.

import "github.com/spalloc/spallocd/service/allocator"

func (t *tx) serveQueues() error {
	for {
		progressed := false
		for _, m := range t.machinesInOrder() {
			ok, err := t.serveHead(m)
			if err != nil {
				return err
			}
			progressed = progressed || ok
		}
		if !progressed {
			return nil
		}
	}
}

// serveHead tries to allocate the head of m's queue. Jobs that m cannot hold
// any more (boards taken out of service since they were queued) are passed
// over, so that they never block the queue; they stay queued in case the
// boards return.
func (t *tx) serveHead(m *machineState) (bool, error) {
	for _, id := range m.queue {
		j := t.job(id)
		if j == nil || j.state != StateQueued || !m.model.Feasible(j.areq) {
			continue
		}
		if *m.memo == (queueMemo{head: id, version: m.version}) {
			return false, nil // nothing changed since it last failed
		}
		a, ok := allocator.Place(m.model.m, m.occ, j.areq)
		if !ok {
			*m.memo = queueMemo{head: id, version: m.version}
			return false, nil
		}
		return true, t.allocate(id, m, a)
	}
	return false, nil
}
