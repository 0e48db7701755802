package service

// The change feed: after each commit the service publishes what changed;
// subscribers (TCP notifications, dashboard, BMP worker wake-ups, metrics)
// collect it in pending sets and are signalled on a 1-buffered channel, so
// publishing never blocks the writer and a slow subscriber's changes
// coalesce (allocations accumulate until it takes them).

import (
	"slices"
	"sync"
)

// changeSet accumulates what one transaction changed.
type changeSet struct {
	jobs     map[int64]struct{}
	machines map[string]struct{}
	bmps     map[int64]struct{}
	ended    map[int64]struct{} // of jobs
	allocs   []Allocation
}

func (c *changeSet) job(id int64) {
	if c.jobs == nil {
		c.jobs = map[int64]struct{}{}
	}
	c.jobs[id] = struct{}{}
}

// end records a job destroyed: changed for the last time.
func (c *changeSet) end(id int64) {
	c.job(id)
	if c.ended == nil {
		c.ended = map[int64]struct{}{}
	}
	c.ended[id] = struct{}{}
}

func (c *changeSet) machine(name string) {
	if c.machines == nil {
		c.machines = map[string]struct{}{}
	}
	c.machines[name] = struct{}{}
}

func (c *changeSet) bmp(id int64) {
	if c.bmps == nil {
		c.bmps = map[int64]struct{}{}
	}
	c.bmps[id] = struct{}{}
}

// allocated records a job given boards, with how long it waited.
func (c *changeSet) allocated(a Allocation) { c.allocs = append(c.allocs, a) }

func (c *changeSet) empty() bool {
	return len(c.jobs) == 0 && len(c.machines) == 0 && len(c.bmps) == 0 && len(c.allocs) == 0
}

// take returns the set as a sorted Change and clears it.
func (c *changeSet) take() Change {
	var ch Change
	for id := range c.jobs {
		ch.Jobs = append(ch.Jobs, id)
	}
	for n := range c.machines {
		ch.Machines = append(ch.Machines, n)
	}
	for id := range c.bmps {
		ch.BMPs = append(ch.BMPs, id)
	}
	for id := range c.ended {
		ch.Ended = append(ch.Ended, id)
	}
	slices.Sort(ch.Jobs)
	slices.Sort(ch.Machines)
	slices.Sort(ch.BMPs)
	slices.Sort(ch.Ended)
	ch.Allocations = c.allocs
	*c = changeSet{}
	return ch
}

// maxPendingAllocations bounds the allocations a subscription keeps for
// its owner; the oldest go first.
const maxPendingAllocations = 1 << 16

// feed fans changes out to subscriptions.
type feed struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func newFeed() *feed { return &feed{subs: map[*Subscription]struct{}{}} }

func (f *feed) subscribe() *Subscription {
	c := make(chan struct{}, 1)
	sub := &Subscription{C: c, signal: c, feed: f}
	f.mu.Lock()
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	return sub
}

func (f *feed) publish(ch Change) {
	if len(ch.Jobs) == 0 && len(ch.Machines) == 0 && len(ch.BMPs) == 0 && len(ch.Allocations) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		sub.add(ch)
	}
}

func (f *feed) remove(sub *Subscription) {
	f.mu.Lock()
	delete(f.subs, sub)
	f.mu.Unlock()
}

// Subscription delivers coalesced Changes. It is safe for concurrent use.
type Subscription struct {
	// C receives a signal when changes are pending; call Take to get them.
	C <-chan struct{}

	signal  chan struct{}
	feed    *feed
	mu      sync.Mutex
	pending changeSet
	closed  bool
}

func (sub *Subscription) add(ch Change) {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return
	}
	for _, id := range ch.Jobs {
		sub.pending.job(id)
	}
	for _, n := range ch.Machines {
		sub.pending.machine(n)
	}
	for _, id := range ch.BMPs {
		sub.pending.bmp(id)
	}
	for _, id := range ch.Ended {
		sub.pending.end(id)
	}
	sub.pending.allocs = append(sub.pending.allocs, ch.Allocations...)
	if n := len(sub.pending.allocs); n > maxPendingAllocations { // a subscriber that never takes
		sub.pending.allocs = slices.Clone(sub.pending.allocs[n-maxPendingAllocations:])
	}
	sub.mu.Unlock()
	select {
	case sub.signal <- struct{}{}:
	default: // a signal is already pending
	}
}

// Take returns and clears the changes pending for this subscription.
func (sub *Subscription) Take() Change {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.pending.take()
}

// Close ends the subscription; pending changes are dropped.
func (sub *Subscription) Close() {
	sub.mu.Lock()
	sub.closed = true
	sub.pending = changeSet{}
	sub.mu.Unlock()
	sub.feed.remove(sub)
}
