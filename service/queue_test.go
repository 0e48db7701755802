package service_test

// Behaviour cases QUEUE: scheduling order and reconfiguration.

import (
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// wantOn checks that a job holds boards on the named machine.
func (e *env) wantOn(id int64, machine string) {
	e.t.Helper()
	if got := e.machineOf(id); got != machine {
		e.t.Fatalf("job %d on %q (state %v), want %q", id, got, e.state(id), machine)
	}
}

func TestQUEUE01FirstMachineInPriorityOrder(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1), grid("m2", 1, 1)))
	j1, j2, j3, j4 := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	e.wantOn(j1, "m0")
	e.wantOn(j2, "m1")
	e.wantOn(j3, "m2")
	e.wantState(j4, service.StateQueued)
	e.destroyAndFree(j2)
	e.wantOn(j4, "m1")
	e.consistent()
}

func TestQUEUE02PriorityFollowsConfiguredOrder(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1), grid("m2", 1, 1)))
	j1 := e.create(rect(1, 1))
	e.wantOn(j1, "m0")
	g0, g1, g2 := grid("m0", 1, 1), grid("m1", 1, 1), grid("m2", 1, 1)
	g0.BMPPrefix, g0.BoardPrefix = "10.1", "11"
	g1.BMPPrefix, g1.BoardPrefix = "10.2", "12"
	g2.BMPPrefix, g2.BoardPrefix = "10.3", "13"
	rep := e.Apply(t, testutil.GridTOML(g0)+testutil.GridTOML(g2)+testutil.GridTOML(g1))
	if len(rep.Unchanged) != 3 || len(rep.Added)+len(rep.Major)+len(rep.Minor)+len(rep.Removed) != 0 {
		t.Fatalf("reorder report %+v", rep)
	}
	e.wantOn(j1, "m0")
	ms, _ := e.ListMachines(e.ctx)
	if len(ms) != 3 || ms[0].Name != "m0" || ms[1].Name != "m2" || ms[2].Name != "m1" {
		t.Fatalf("machines %+v", ms)
	}
	e.wantOn(e.create(rect(1, 1)), "m2")
	e.consistent()
}

func TestQUEUE03MachinesThatCanNeverFitAreSkipped(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("small", 1, 2), grid("big", 1, 5)))
	e.wantOn(e.create(rect(1, 4)), "big")
	e.wantOn(e.create(rect(1, 1)), "small")
	e.wantDestroyed(e.create(rect(1, 6)), nsma)
}

func TestQUEUE04FIFO(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	j1, j2, j3, j4 := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	e.wantState(j1, service.StatePower)
	for _, id := range []int64{j2, j3, j4} {
		e.wantState(id, service.StateQueued)
	}
	e.destroyAndFree(j1)
	e.wantOn(j2, "m")
	e.destroy(j3)
	e.wantDestroyed(j3, service.CancelledPrefix)
	e.wantState(j4, service.StateQueued)
	e.destroyAndFree(j2)
	e.wantOn(j4, "m")
	e.consistent()
}

func TestQUEUE05FirstMachineThatFrees(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1)))
	j1, j2, j3, j4 := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	e.wantOn(j1, "m0")
	e.wantOn(j2, "m1")
	e.destroyAndFree(j2)
	e.wantOn(j3, "m1")
	e.wantState(j4, service.StateQueued)
	e.destroyAndFree(j1)
	e.wantOn(j4, "m0")
}

func TestQUEUE06StuckJobDoesNotHoldUpAnother(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 2)))
	j1, j2 := e.create(rect(1, 1)), e.create(rect(1, 2))
	e.wantOn(j1, "m0")
	e.wantOn(j2, "m1")
	j3, j4 := e.create(rect(1, 2)), e.create(rect(1, 1))
	e.wantState(j3, service.StateQueued)
	e.wantState(j4, service.StateQueued)
	e.destroyAndFree(j1)
	e.wantOn(j4, "m0")
	e.wantState(j3, service.StateQueued)
}

func TestQUEUE07TagsAndNames(t *testing.T) {
	plain, foo, untagged := grid("plain", 1, 1), grid("foo", 1, 1), grid("untagged", 1, 1)
	foo.Tags, untagged.Tags = []string{"foo", "bar"}, []string{}
	e := newEnv(t, testutil.Grids(plain, foo, untagged))
	e.wantOn(e.create(rect(1, 1)), "plain")
	j2 := e.create(rect(1, 1), tags("foo"))
	e.wantOn(j2, "foo")
	e.wantDestroyed(e.create(rect(1, 1), tags("foo", "baz")), nsma)
	e.wantOn(e.create(rect(1, 1), tags()), "untagged")
	j5 := e.create(rect(1, 1), onMachine("foo"))
	e.wantState(j5, service.StateQueued)
	e.wantDestroyed(e.create(rect(1, 1), onMachine("nope")), nsma)
	_, err := e.CreateJob(e.ctx, request(rect(1, 1), onMachine("foo"), tags("foo")))
	if service.UserMessage(err) != "Only one of machine and tags may be specified for a job." {
		t.Fatalf("machine and tags: %v", err)
	}
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != 4 {
		t.Fatalf("%d live jobs, want 4 (the refused request made none)", len(jobs))
	}
	e.destroyAndFree(j2)
	e.wantOn(j5, "foo")
}

func TestQUEUE08NoMachineAtAll(t *testing.T) {
	e := newEnv(t, "")
	for i, shape := range []service.Shape{one(), nb(3), rect(1, 1), board(0, 0, 0)} {
		id := e.create(shape)
		if id != int64(i+1) {
			t.Fatalf("id %d, want %d", id, i+1)
		}
		e.wantDestroyed(id, nsma)
	}
	dead := grid("m", 1, 1)
	dead.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 1}}
	e2 := newEnv(t, testutil.GridTOML(dead))
	e2.wantDestroyed(e2.create(board(0, 0, 1)), nsma)
	e2.wantDestroyed(e2.create(nb(4)), nsma)
}

func TestQUEUE09AddingAMachineServesQueueInOrder(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1)))
	j1, j2, j3 := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	e.finish()
	rep := e.Apply(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1)))
	if len(rep.Added) != 1 || rep.Added[0] != "m1" || len(rep.Unchanged) != 1 {
		t.Fatalf("report %+v", rep)
	}
	e.wantOn(j1, "m0")
	e.wantState(j1, service.StateReady)
	e.wantOn(j2, "m1")
	e.wantState(j3, service.StateQueued)
	e.consistent()
}

func TestQUEUE10ReplacingMachinesInOneReload(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1)))
	j1, j2, j3, j4 := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	m1 := grid("m1", 2, 1)
	m1.BMPPrefix, m1.BoardPrefix = "10.9", "19"
	rep := e.Apply(t, testutil.GridTOML(m1))
	if len(rep.Removed) != 1 || len(rep.Added) != 1 {
		t.Fatalf("report %+v", rep)
	}
	e.wantDestroyed(j1, service.ReasonMachineRemoved)
	e.wantOn(j2, "m1")
	e.wantOn(j3, "m1")
	e.wantState(j4, service.StateQueued)
	e.finish()
	e.consistent()
}

func TestQUEUE11ChangedSizeDestroysRunningJobs(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	j1, j2 := e.create(rect(1, 1)), e.create(rect(1, 1))
	e.finish()
	rep := e.Apply(t, testutil.GridTOML(grid("m", 1, 2)))
	if len(rep.Major) != 1 {
		t.Fatalf("report %+v", rep)
	}
	e.wantDestroyed(j1, service.ReasonMachineRemoved)
	// Job 2 gets the new triad at once; the old one waits for its power-off.
	e.wantOn(j2, "m")
	for _, b := range e.boards(j2) {
		if b.Y != 1 {
			t.Fatalf("job 2 got %v while triad (0,0) is still being powered off", e.boards(j2))
		}
	}
	e.finish()
	e.wantState(j2, service.StateReady)
	e.consistent()
}

func TestQUEUE12WhatAReloadChanges(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	j1 := e.create(rect(1, 1))
	e.finish()
	sub := e.Subscribe()
	defer sub.Close()

	rep := e.Apply(t, testutil.GridTOML(grid("m", 1, 1)))
	if len(rep.Unchanged) != 1 || len(sub.Take().Machines) != 0 {
		t.Fatalf("identical reload: %+v", rep)
	}
	e.wantState(j1, service.StateReady)

	tagged := grid("m", 1, 1)
	tagged.Tags = []string{"default", "x"}
	rep = e.Apply(t, testutil.GridTOML(tagged))
	if len(rep.Minor) != 1 || !contains(sub.Take().Machines, "m") {
		t.Fatalf("tags reload: %+v", rep)
	}
	e.wantState(j1, service.StateReady)

	readdressed := tagged
	readdressed.BoardPrefix = "99"
	rep = e.Apply(t, testutil.GridTOML(readdressed))
	if len(rep.Major) != 1 || !contains(sub.Take().Machines, "m") {
		t.Fatalf("address reload: %+v", rep)
	}
	e.wantDestroyed(j1, service.ReasonMachineRemoved)
	e.finish()
	e.consistent()
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
