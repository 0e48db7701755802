package service_test

// The change feed (docs/protocol.md, "Notifications") and reload bookkeeping.

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// take waits for no signal (changes are published before the call that
// made them returns) and returns what is pending.
func take(t *testing.T, sub *service.Subscription) service.Change {
	t.Helper()
	select {
	case <-sub.C:
	default:
		return service.Change{}
	}
	return sub.Take()
}

func TestFeedReportsJobsAndMachines(t *testing.T) {
	e := newEnv(t, dual())
	sub := e.Subscribe()
	defer sub.Close()

	j1 := e.create(rect(1, 2)) // fills m0
	ch := take(t, sub)
	if !slices.Equal(ch.Jobs, []int64{j1}) || !slices.Equal(ch.Machines, []string{"m0"}) || len(ch.BMPs) == 0 {
		t.Fatalf("allocation: %+v", ch)
	}
	q := e.create(rect(1, 2), onMachine("m0"))
	if ch := take(t, sub); !slices.Equal(ch.Jobs, []int64{q}) || len(ch.Machines) != 0 || len(ch.BMPs) != 0 {
		t.Fatalf("queued job: %+v", ch)
	}
	e.finish()
	if ch := take(t, sub); !slices.Equal(ch.Jobs, []int64{j1}) {
		t.Fatalf("ready: %+v", ch)
	}
	e.destroy(j1)
	if ch := take(t, sub); !slices.Equal(ch.Jobs, []int64{j1}) || !slices.Equal(ch.Machines, []string{"m0"}) || !slices.Equal(ch.Ended, []int64{j1}) {
		t.Fatalf("destroy: %+v", ch)
	}
	e.finish() // power-off: boards back, q allocated
	if ch := take(t, sub); !contains(ch.Jobs, q) || !slices.Equal(ch.Machines, []string{"m0"}) || len(ch.Ended) != 0 {
		t.Fatalf("freed and reallocated: %+v", ch)
	}
	e.Apply(t, "[server]\n")
	if ch := take(t, sub); !slices.Equal(ch.Machines, []string{"m0", "m1"}) || !contains(ch.Jobs, q) {
		t.Fatalf("all machines removed: %+v", ch)
	}
}

func TestSubscriptionsCoalesceAndNeverBlock(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	idle := e.Subscribe() // never read: must not hold anything up
	defer idle.Close()
	sub := e.Subscribe()
	var ids []int64
	for range 5 {
		ids = append(ids, e.create(rect(1, 1)))
	}
	if len(sub.C) != 1 {
		t.Fatalf("%d signals pending, want 1", len(sub.C))
	}
	if ch := take(t, sub); !slices.Equal(ch.Jobs, ids) {
		t.Fatalf("coalesced jobs %v, want %v", ch.Jobs, ids)
	}
	if ch := take(t, sub); len(ch.Jobs)+len(ch.Machines)+len(ch.BMPs) != 0 {
		t.Fatalf("changes delivered twice: %+v", ch)
	}
	sub.Close()
	e.create(one())
	if len(sub.C) != 0 || len(sub.Take().Jobs) != 0 {
		t.Fatal("a closed subscription still receives changes")
	}
}

// dataVersion reads SQLite's data_version on one connection of its own: it
// changes when another connection commits a change to the database.
type dataVersion struct {
	conn *sql.Conn
}

func newDataVersion(t *testing.T, path string) *dataVersion {
	d, err := db.Open(context.Background(), path, db.Options{ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Read.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); d.Close() })
	return &dataVersion{conn: conn}
}

func (v *dataVersion) get(t *testing.T) int64 {
	var n int64
	if err := v.conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An unchanged machine is not written at all; a changed one is.
func TestReloadOfAnUnchangedMachineWritesNothing(t *testing.T) {
	toml := testutil.Grids(grid("m0", 2, 2), grid("m1", 1, 1))
	e := newEnv(t, toml)
	e.create(one())
	e.create(rect(2, 2))
	e.finish()
	dv := newDataVersion(t, e.DBPath)
	before := dv.get(t)
	rep := e.Apply(t, toml)
	if len(rep.Unchanged) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if after := dv.get(t); after != before {
		t.Fatalf("an identical reload wrote to the database (data_version %d -> %d)", before, after)
	}
	tagged := grid("m1", 1, 1)
	tagged.Tags = []string{"other"}
	rep = e.Apply(t, testutil.Grids(grid("m0", 2, 2), tagged))
	if len(rep.Minor) != 1 || rep.Minor[0] != "m1" {
		t.Fatalf("report %+v", rep)
	}
	if dv.get(t) == before {
		t.Fatal("a changed machine was not written (the check cannot see writes)")
	}
	e.consistent()
}

// A minor change (dead boards, links) keeps running jobs and affects new
// allocations.
func TestMinorChangeKeepsJobs(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a := e.create(rect(1, 1))
	e.finish()
	held := e.boards(a)
	g := grid("m", 2, 1)
	g.Extra = "dead_boards = [[" + itoa(held[0].X) + ", 0, 0], [" + itoa(1-held[0].X) + ", 0, 0]]\n"
	rep := e.Apply(t, testutil.GridTOML(g))
	if len(rep.Minor) != 1 {
		t.Fatalf("report %+v", rep)
	}
	e.wantState(a, service.StateReady)
	if !sameBoards(e.boards(a), held) {
		t.Fatalf("job boards changed: %v", e.boards(a))
	}
	// Both bottom-left boards are dead now: no 1x1 block can ever fit.
	e.wantDestroyed(e.create(rect(1, 1)), nsma)
	e.consistent()
}

// The feed carries each allocation with how long the job waited in the
// queue (since it was created, or re-queued), as it happens; a subscriber
// that takes late gets every one.
func TestFeedCarriesAllocationWaits(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	sub := e.Subscribe()
	defer sub.Close()
	first := e.create(rect(1, 1))
	if ch := take(t, sub); !slices.Equal(ch.Allocations, []service.Allocation{{Job: first, Machine: "m", Wait: 0}}) {
		t.Fatalf("allocations %+v, want job %d at once", ch.Allocations, first)
	}
	second := e.create(rect(1, 1))
	third := e.create(one())
	e.Clock.Advance(90 * time.Second)
	e.destroyAndFree(first)
	e.finish()
	e.Clock.Advance(30 * time.Second)
	e.destroyAndFree(second) // third waits for the power-off of second's boards
	want := []service.Allocation{{Job: second, Machine: "m", Wait: 90 * time.Second}, {Job: third, Machine: "m", Wait: 120 * time.Second}}
	if ch := take(t, sub); !slices.Equal(ch.Allocations, want) {
		t.Fatalf("allocations %+v, want %+v", ch.Allocations, want)
	}
	if ch := take(t, sub); len(ch.Allocations) != 0 {
		t.Fatalf("allocations reported twice: %+v", ch.Allocations)
	}
}
