package service_test

import (
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// twoMachines: "m" (1 x 1 triads) and "n" (1 x 1 triads, other addresses),
// both tagged default; extra is added to the file (e.g. a [policy] table).
func twoMachines(extra string, mWidth int) string {
	return extra + "\n" + testutil.GridTOML(testutil.Grid{Name: "m", Width: mWidth, Height: 1}) +
		testutil.GridTOML(testutil.Grid{Name: "n", Width: 1, Height: 1, BMPPrefix: "10.2", BoardPrefix: "12"})
}

func (e *env) drain(machine, reason string) {
	e.t.Helper()
	if err := e.DrainMachine(service.WithActor(e.ctx, "alice", "10.0.0.9:5000"), machine, reason); err != nil {
		e.t.Fatalf("drain %s: %v", machine, err)
	}
}

func (e *env) drained(machine string) *service.Drain {
	e.t.Helper()
	return e.detail(machine).Drained
}

func (e *env) waiting(id int64) string {
	e.t.Helper()
	d, err := e.JobDetail(e.ctx, id)
	if err != nil {
		e.t.Fatalf("job %d: %v", id, err)
	}
	if d.Waiting == nil {
		e.t.Fatalf("job %d is %v, not waiting", id, d.State)
	}
	return d.Waiting.Reason
}

// A drained machine takes no new allocations; its running jobs continue and
// jobs queued on it wait with the drain's reason; it is still listed; the
// drain survives restarts and reloads (also one that re-creates the
// machine), and undraining serves the queue at once.
func TestDrainStopsAllocationsOnly(t *testing.T) {
	e := newEnv(t, twoMachines("", 1))
	running := e.create(one(), onMachine("m"))
	e.finish()
	e.drain("m", "firmware upgrade")
	e.wantState(running, service.StateReady)

	queued := e.create(one(), onMachine("m"))
	e.wantState(queued, service.StateQueued)
	if got, want := e.waiting(queued), "machine drained: firmware upgrade (m)"; got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}
	elsewhere := e.create(one()) // any default machine: n takes it
	if e.machineOf(elsewhere) != "n" {
		t.Errorf("job for any machine went to %q, want n (m is drained)", e.machineOf(elsewhere))
	}
	d := e.drained("m")
	if d == nil || d.Reason != "firmware upgrade" || d.By != "alice" || !d.At.Equal(e.Now()) {
		t.Fatalf("drain of m: %+v", d)
	}
	ms, _ := e.ListMachines(e.ctx)
	if len(ms) != 2 || ms[0].Name != "m" {
		t.Errorf("list_machines: %+v, want m still listed", ms)
	}

	e.Restart(t)
	e.consistent()
	if d := e.drained("m"); d == nil || d.Reason != "firmware upgrade" || d.By != "alice" {
		t.Fatalf("after a restart: drain %+v", d)
	}
	e.wantState(queued, service.StateQueued)
	e.Apply(t, twoMachines("", 2)) // m re-created with a new size
	e.consistent()
	if d := e.drained("m"); d == nil || d.Reason != "firmware upgrade" {
		t.Fatalf("after m was re-created: drain %+v", d)
	}
	e.wantState(queued, service.StateQueued)

	if err := e.UndrainMachine(service.WithActor(e.ctx, "bob", ""), "m"); err != nil {
		t.Fatal(err)
	}
	if e.drained("m") != nil {
		t.Fatal("still drained after undrain")
	}
	e.wantState(queued, service.StatePower)
	e.consistent()

	entries, total, err := e.Audit(e.ctx, service.AuditQuery{Machine: "m"})
	if err != nil || total != 2 {
		t.Fatalf("audit of m: %d entries, %v", total, err)
	}
	if u, dr := entries[0], entries[1]; u.Action != service.ActionUndrain || u.By != "bob" ||
		dr.Action != service.ActionDrain || dr.By != "alice" || dr.From != "10.0.0.9:5000" ||
		dr.Reason == nil || *dr.Reason != "firmware upgrade" || dr.Target != "machine m" {
		t.Errorf("audit entries: %+v, %+v", u, dr)
	}
}

// Removing a drained machine from the configuration ends its drain; so a
// machine of that name added later takes jobs.
func TestDrainEndsWithTheMachine(t *testing.T) {
	e := newEnv(t, twoMachines("", 1))
	e.drain("m", "going away")
	e.Apply(t, testutil.GridTOML(testutil.Grid{Name: "n", Width: 1, Height: 1, BMPPrefix: "10.2", BoardPrefix: "12"}))
	e.Apply(t, twoMachines("", 1))
	if d := e.drained("m"); d != nil {
		t.Fatalf("m removed and added again: still drained %+v", d)
	}
	e.Restart(t)
	e.consistent()
	if d := e.drained("m"); d != nil {
		t.Fatalf("after a restart: drained %+v", d)
	}
	if id := e.create(one(), onMachine("m")); e.state(id) != service.StatePower {
		t.Errorf("job on m: %v, want allocated", e.state(id))
	}
}

// Drain and undrain refuse what they cannot do and change nothing.
func TestDrainMistakes(t *testing.T) {
	e := newEnv(t, twoMachines("", 1))
	for _, c := range []struct {
		machine, reason string
		kind            service.Kind
		msg             string
	}{
		{"m", "  ", service.KindInvalid, "A reason is needed to drain a machine."},
		{"nope", "r", service.KindNotFound, `There is no machine "nope".`},
	} {
		err := e.DrainMachine(e.ctx, c.machine, c.reason)
		if service.KindOf(err) != c.kind || service.UserMessage(err) != c.msg {
			t.Errorf("drain %q %q: %v, want %v %q", c.machine, c.reason, err, c.kind, c.msg)
		}
	}
	if err := e.UndrainMachine(e.ctx, "nope"); service.KindOf(err) != service.KindNotFound {
		t.Errorf("undrain of an unknown machine: %v", err)
	}
	if err := e.UndrainMachine(e.ctx, "m"); err != nil {
		t.Errorf("undrain of a machine that is not drained: %v", err)
	}
	if e.drained("m") != nil {
		t.Error("m drained by a refused request")
	}
	if _, total, _ := e.Audit(e.ctx, service.AuditQuery{}); total != 0 {
		t.Errorf("%d audit entries for requests that changed nothing", total)
	}
	// Draining again replaces the reason.
	e.drain("m", "first")
	e.drain("m", "second")
	if d := e.drained("m"); d == nil || d.Reason != "second" {
		t.Errorf("drained twice: %+v", d)
	}
	id := e.create(one(), onMachine("m"))
	if r := e.waiting(id); !strings.HasPrefix(r, "machine drained: second") {
		t.Errorf("waiting reason %q", r)
	}
}
