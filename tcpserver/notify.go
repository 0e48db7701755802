package tcpserver

// Notification subscriptions of one connection, and the filtering of a
// change-feed round down to what that connection watches.

import (
	"sort"
	"sync"

	"github.com/spalloc/spallocd/service"
)

// watches is what one connection asked to be told about. The rules are the
// original's: subscribing to all replaces the individual ids; while
// subscribed to all, subscribing or unsubscribing one id changes nothing;
// unsubscribing from all ends every subscription of that kind.
type watches struct {
	round       *sync.Mutex // the server's: see Server.round; nil in unit tests
	mu          sync.Mutex
	allJobs     bool
	jobs        map[int64]struct{}
	allMachines bool
	machines    map[string]struct{}
}

// job applies notify_job (on) or no_notify_job (!on); id nil means all.
func (w *watches) job(on bool, id *int64) {
	unlock := w.lock()
	defer unlock()
	switch {
	case id == nil:
		w.allJobs, w.jobs = on, nil
	case w.allJobs:
	case on:
		if w.jobs == nil {
			w.jobs = map[int64]struct{}{}
		}
		w.jobs[*id] = struct{}{}
	default:
		delete(w.jobs, *id)
	}
}

// lock takes the server's round lock (if any), then w.mu: the hub takes
// them in the same order.
func (w *watches) lock() (unlock func()) {
	if w.round == nil {
		w.mu.Lock()
		return w.mu.Unlock
	}
	w.round.Lock()
	w.mu.Lock()
	return func() {
		w.mu.Unlock()
		w.round.Unlock()
	}
}

// machine applies notify_machine / no_notify_machine; name nil means all.
func (w *watches) machine(on bool, name *string) {
	unlock := w.lock()
	defer unlock()
	switch {
	case name == nil:
		w.allMachines, w.machines = on, nil
	case w.allMachines:
	case on:
		if w.machines == nil {
			w.machines = map[string]struct{}{}
		}
		w.machines[*name] = struct{}{}
	default:
		delete(w.machines, *name)
	}
}

// filter returns the ids and names of ch this connection watches, in the
// order of ch; nil when none.
func (w *watches) filter(ch *service.Change) (jobs []int64, machines []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.filterLocked(ch)
}

// deliver calls send with what this connection watches of ch, holding the
// lock that notify commands take: a notification is queued either before
// the reply to a (no_)notify command or filtered by its effect, never
// filtered by the old subscriptions and queued after the reply.
//
// Jobs destroyed in the round are then forgotten: they never change again,
// so a connection that watches jobs one by one does not grow by one entry
// for every job it ever watched.
func (w *watches) deliver(ch *service.Change, send func(jobs []int64, machines []string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	jobs, machines := w.filterLocked(ch)
	if len(jobs) > 0 || len(machines) > 0 {
		send(jobs, machines)
	}
	for _, id := range ch.Ended {
		delete(w.jobs, id)
	}
}

func (w *watches) filterLocked(ch *service.Change) (jobs []int64, machines []string) {
	if w.allJobs {
		jobs = ch.Jobs
	} else if len(w.jobs) > 0 {
		for _, id := range ch.Jobs {
			if _, ok := w.jobs[id]; ok {
				jobs = append(jobs, id)
			}
		}
	}
	if w.allMachines {
		machines = ch.Machines
	} else if len(w.machines) > 0 {
		for _, m := range ch.Machines {
			if _, ok := w.machines[m]; ok {
				machines = append(machines, m)
			}
		}
	}
	return jobs, machines
}

// notificationLines renders what a connection should be sent for one round:
// at most one jobs_changed and one machines_changed line, never an empty
// list.
func notificationLines(b []byte, jobs []int64, machines []string) []byte {
	if len(jobs) > 0 {
		b = appendJobsChanged(b, jobs)
	}
	if len(machines) > 0 {
		b = appendMachinesChanged(b, machines)
	}
	return b
}

// normalize sorts and deduplicates a round's ids and names, so that every
// connection sees them in one stable order.
func normalize(ch service.Change) service.Change {
	sort.Slice(ch.Jobs, func(i, j int) bool { return ch.Jobs[i] < ch.Jobs[j] })
	ch.Jobs = dedup(ch.Jobs)
	sort.Strings(ch.Machines)
	ch.Machines = dedup(ch.Machines)
	return ch
}

func dedup[T comparable](s []T) []T {
	if len(s) < 2 {
		return s
	}
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// changeFeed is the part of service.Subscription the hub uses.
type changeFeed interface {
	Ready() <-chan struct{}
	Take() service.Change
	Close()
}

type subscriptionFeed struct{ sub *service.Subscription }

func (f subscriptionFeed) Ready() <-chan struct{} { return f.sub.C }
func (f subscriptionFeed) Take() service.Change   { return f.sub.Take() }
func (f subscriptionFeed) Close()                 { f.sub.Close() }
