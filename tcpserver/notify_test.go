package tcpserver_test

import (
	"bufio"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// watcher is a client whose notifications are checked as they arrive: each
// must name only what the connection watches.
type watcher struct {
	t    *testing.T
	name string
	c    *client.Client
	jobs map[int64]bool // nil map + allJobs
	all  bool
	ms   map[string]bool
	allM bool
}

func newWatcher(t *testing.T, h *harness, name string) *watcher {
	return &watcher{t: t, name: name, c: h.dial(), jobs: map[int64]bool{}, ms: map[string]bool{}}
}

// next returns the next notification, failing if none comes within 10 s or
// if it names something not watched.
func (w *watcher) next() client.Notification {
	w.t.Helper()
	select {
	case n := <-w.c.Notifications():
		if (len(n.JobsChanged) == 0) == (len(n.MachinesChanged) == 0) {
			w.t.Fatalf("%s: notification %+v must hold exactly one non-empty list", w.name, n)
		}
		for _, id := range n.JobsChanged {
			if !w.all && !w.jobs[id] {
				w.t.Fatalf("%s: told about job %d, which it does not watch", w.name, id)
			}
		}
		for _, m := range n.MachinesChanged {
			if !w.allM && !w.ms[m] {
				w.t.Fatalf("%s: told about machine %q, which it does not watch", w.name, m)
			}
		}
		return n
	case <-time.After(10 * time.Second):
		w.t.Fatalf("%s: no notification within 10 s", w.name)
	}
	return client.Notification{}
}

// waitJob reads notifications until one names job id.
func (w *watcher) waitJob(id int64) {
	w.t.Helper()
	for !slices.Contains(w.next().JobsChanged, id) {
	}
}

// waitMachines reads notifications until every name has been seen.
func (w *watcher) waitMachines(names ...string) {
	w.t.Helper()
	seen := map[string]bool{}
	for len(seen) < len(names) {
		for _, m := range w.next().MachinesChanged {
			if slices.Contains(names, m) {
				seen[m] = true
			}
		}
	}
}

// quiet checks that no notification is waiting.
func (w *watcher) quiet() {
	w.t.Helper()
	select {
	case n := <-w.c.Notifications():
		w.t.Fatalf("%s: unexpected notification %+v", w.name, n)
	default:
	}
}

func (w *watcher) notifyJob(id *int64) {
	w.t.Helper()
	must(w.t, w.c.NotifyJob(bg, id))
	if id == nil {
		w.all = true
	} else {
		w.jobs[*id] = true
	}
}

func (w *watcher) noNotifyJob(id *int64) {
	w.t.Helper()
	must(w.t, w.c.NoNotifyJob(bg, id))
	if id == nil {
		w.all, w.jobs = false, map[int64]bool{}
	} else if !w.all {
		delete(w.jobs, *id)
	}
}

func (w *watcher) notifyMachine(name *string) {
	w.t.Helper()
	must(w.t, w.c.NotifyMachine(bg, name))
	if name == nil {
		w.allM = true
	} else {
		w.ms[*name] = true
	}
}

// completeRound plays the BMPs for one round only: the operations pending
// now succeed; operations they cause stay pending.
func (h *harness) completeRound() int {
	h.t.Helper()
	ops := testutil.ClaimAll(h.t, h.svc.Service)
	results := make([]service.OpResult, len(ops))
	for i, op := range ops {
		results[i] = service.OpResult{OpID: op.ID}
	}
	if len(ops) > 0 {
		must(h.t, h.svc.CompleteBMPOps(bg, results))
	}
	return len(ops)
}

// PROTO-13.
func TestJobNotifications(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c0 := newWatcher(t, h, "c0")
	c1 := newWatcher(t, h, "c1")
	c1.notifyJob(nil)

	job1 := createJob(t, c0.c, nil, map[string]any{})
	c1.waitJob(job1)
	if h.completeOps() == 0 {
		t.Fatal("no BMP operations for job 1")
	}
	c1.waitJob(job1) // power-on done
	if st := jobState(t, c0.c, job1); st.State != client.StateReady {
		t.Fatalf("job 1: %+v", st)
	}

	c0.notifyJob(&job1)
	job2 := createJob(t, c0.c, []any{1, 2}, map[string]any{})
	c1.waitJob(job2)
	if st := jobState(t, c0.c, job2); st.State != client.StateQueued {
		t.Fatalf("job 2: %+v", st)
	}

	must(t, c0.c.DestroyJob(bg, job1, nil))
	c0.waitJob(job1)
	c1.waitJob(job1)
	// The power-off completes and job 2 gets the boards: one notification
	// for the allocation, then one for reaching ready.
	if h.completeRound() == 0 {
		t.Fatal("no power-off for job 1")
	}
	c1.waitJob(job2)
	if st := jobState(t, c0.c, job2); st.State != client.StatePower {
		t.Fatalf("job 2 after the power-off: %+v", st)
	}
	h.completeOps()
	c1.waitJob(job2)
	if st := jobState(t, c0.c, job2); st.State != client.StateReady {
		t.Fatalf("job 2 after the power-off: %+v", st)
	}
	c0.quiet() // c0 watches job 1 only
}

// PROTO-14.
func TestMachineNotifications(t *testing.T) {
	h := newHarness(t, dual, harnessOptions{})
	c0 := newWatcher(t, h, "c0")
	c1 := newWatcher(t, h, "c1")
	c0.notifyMachine(ptr("m0"))
	c1.notifyMachine(nil)

	job1 := createJob(t, c0.c, []any{1, 2}, map[string]any{})
	c0.waitMachines("m0")
	c1.waitMachines("m0")
	job2 := createJob(t, c0.c, nil, map[string]any{}) // m0 is full
	c1.waitMachines("m1")
	if mi, err := c0.c.GetJobMachineInfo(bg, job2); err != nil || mi.MachineName == nil || *mi.MachineName != "m1" {
		t.Fatalf("job 2: %+v %v", mi, err)
	}

	must(t, c0.c.DestroyJob(bg, job1, nil))
	c0.waitMachines("m0")
	c1.waitMachines("m0")
	must(t, c1.c.DestroyJob(bg, job2, nil))
	c1.waitMachines("m1")

	h.svc.Apply(t, "[server]\n") // no machines
	c0.waitMachines("m0")
	c1.waitMachines("m0", "m1")
	if ms, err := c0.c.ListMachines(bg); err != nil || len(ms) != 0 {
		t.Fatalf("machines after removing all: %v %v", ms, err)
	}
}

// PROTO-15 over the wire (the rules in detail are unit-tested on watches).
func TestSubscriptionBookkeeping(t *testing.T) {
	h := newHarness(t, "", harnessOptions{}) // no machines: every job is destroyed at once
	w := newWatcher(t, h, "w")
	maker := h.dial()

	w.notifyJob(nil)
	w.noNotifyJob(ptr[int64](2)) // still all
	id := createJob(t, maker, nil, map[string]any{})
	w.waitJob(id)

	w.noNotifyJob(nil)
	w.notifyJob(ptr(id + 2))
	w.notifyJob(ptr(id + 3))
	w.noNotifyJob(ptr(id + 2))
	for range 3 {
		createJob(t, maker, nil, map[string]any{})
	}
	w.waitJob(id + 3) // id+1 and id+2 are not watched: next() would fail on them
	w.noNotifyJob(ptr(id + 3))
	createJob(t, maker, nil, map[string]any{})

	// Unsubscribed from everything: the next notification is the one we
	// subscribe to now.
	w.notifyJob(ptr(id + 5))
	createJob(t, maker, nil, map[string]any{})
	w.waitJob(id + 5)
	w.quiet()
}

// PROTO-16: on the wire a notification is a line of its own with exactly
// one key, possibly between a request and its reply, and every change of a
// watched job is told at least once after it happens. How many changes one
// notification gathers depends on timing (a job created and powered at
// once may be told in one line), so the test makes the second change, the
// power-on, only after the first notification arrived: it must bring
// another.
func TestNotificationLines(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{}) // the test completes the power-on
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	send := func(line string) {
		if _, err := nc.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	replies, jobs, machines := 0, 0, 0
	readUntil := func(done func() bool) {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !done() {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %d replies, %d job and %d machine notifications: %v", replies, jobs, machines, err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil || len(m) != 1 {
				t.Fatalf("line %q is not an object with one key", line)
			}
			switch {
			case m["return"] != nil:
				replies++
			case m["jobs_changed"] != nil:
				jobs++
			case m["machines_changed"] != nil:
				machines++
			default:
				t.Fatalf("unexpected line %q", line)
			}
			if strings.Contains(line, "[]") {
				t.Fatalf("empty list in %q", line)
			}
		}
	}
	send(`{"command":"notify_job","args":[null]}`)
	send(`{"command":"notify_machine","args":[null]}`)
	send(`{"command":"create_job","args":[],"kwargs":{"owner":"me"}}`)
	readUntil(func() bool { return replies == 3 && jobs >= 1 && machines >= 1 })
	seen := jobs
	if h.completeOps() == 0 {
		t.Fatal("no BMP operation to complete: the job is not powering")
	}
	readUntil(func() bool { return jobs > seen })
}
