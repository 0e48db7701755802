package service_test

// Concurrent callers: each write call runs once, in its own transaction.

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// Calls waiting behind the writer each run once, in a transaction of their
// own, and one failing call undoes no other.
func TestCallsWaitingForTheWriterRunOnceEach(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 2)))
	before, err := e.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	ids := make([]int64, n)
	errs := make([]error, n)
	var failErr error
	var wg sync.WaitGroup
	release := e.HoldWriter()
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = e.CreateJob(e.ctx, request(one())) })
	}
	wg.Go(func() {
		failErr = e.TakeBoardOutOfService(e.ctx, "no-such-machine", geometry.Board{}, "test", false)
	})
	release()
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("job id %d given twice", ids[i])
		}
		seen[ids[i]] = true
		e.wantState(ids[i], service.StatePower)
	}
	if service.KindOf(failErr) != service.KindNotFound {
		t.Fatalf("the failing call returned %v, want not found", failErr)
	}
	after, err := e.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.WriteCalls - before.WriteCalls; got != n+1 {
		t.Errorf("%d write calls counted, want %d", got, n+1)
	}
	if got := after.WriteTransactions - before.WriteTransactions; got != n {
		t.Errorf("%d transactions committed, want %d (one per successful call)", got, n)
	}
	e.finish()
	e.Restart(t) // every answered change was committed
	for _, id := range ids {
		e.wantState(id, service.StateReady)
	}
	e.consistent()
}

// Clients and BMP workers changing state at once, some of their calls
// failing: every answered change is there after a restart, and the database
// and memory agree throughout.
func TestConcurrentChangesStayConsistent(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 3, 3)))
	const clients, rounds = 6, 40
	var mu sync.Mutex
	created := map[int64]bool{} // answered creations
	destroyed := map[int64]bool{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			var mine []int64
			for r := range rounds {
				switch (c + r) % 5 {
				case 0, 1:
					id, err := e.CreateJob(e.ctx, request(nb(1+r%3)))
					if err != nil {
						t.Errorf("create: %v", err)
						return
					}
					mine = append(mine, id)
					mu.Lock()
					created[id] = true
					mu.Unlock()
				case 2:
					if len(mine) > 0 {
						id := mine[0]
						mine = mine[1:]
						if err := e.DestroyJob(e.ctx, id, nil, ""); err != nil {
							t.Errorf("destroy %d: %v", id, err)
							return
						}
						mu.Lock()
						destroyed[id] = true
						mu.Unlock()
					}
				case 3:
					if len(mine) > 0 {
						_ = e.PowerOffJob(e.ctx, mine[len(mine)-1], "") // may be queued still
					}
				case 4: // a call that fails inside its transaction
					err := e.TakeBoardOutOfService(e.ctx, "no-such-machine", geometry.Board{}, "test", false)
					if service.KindOf(err) != service.KindNotFound {
						t.Errorf("take out of service on no machine: %v", err)
						return
					}
				}
			}
		})
	}
	bmps := bmpIDs(t, e)
	for range 2 { // BMP workers
		wg.Go(func() {
			for range clients * rounds / 2 {
				ops, err := e.ClaimAllBMPOps(e.ctx, bmps)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				res := make([]service.OpResult, len(ops))
				for i, op := range ops {
					res[i] = service.OpResult{OpID: op.ID}
				}
				if err := e.CompleteBMPOps(e.ctx, res); err != nil {
					t.Errorf("complete: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if st, err := e.Stats(e.ctx); err == nil {
		t.Logf("%d write calls in %d transactions", st.WriteCalls, st.WriteTransactions)
	}
	e.consistent()
	e.finish()
	e.Restart(t)
	e.consistent()
	for id := range created {
		st := e.state(id)
		if destroyed[id] && st != service.StateDestroyed {
			t.Errorf("job %d was destroyed; after a restart it is %v", id, st)
		}
		if st == service.StateUnknown {
			t.Errorf("job %d was created; after a restart it is unknown", id)
		}
	}
}

func bmpIDs(t *testing.T, e *env) []int64 {
	t.Helper()
	eps, err := e.BMPs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(eps))
	for i, ep := range eps {
		ids[i] = ep.ID
	}
	return ids
}

// A call that panics (a bug) fails alone with an internal error and
// changes nothing; the writer goes on working.
func TestAPanickingCallFailsAlone(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 2)), testutil.WithLogger(discardLogger()))
	id := e.create(one())
	err := e.WriteCall(e.ctx, func() { panic("a bug") })
	if service.KindOf(err) != service.KindInternal {
		t.Fatalf("the panicking call returned %v, want an internal error", err)
	}
	e.wantState(id, service.StatePower)
	e.wantState(e.create(one()), service.StatePower) // the writer still works
	e.consistent()
}

// Each write function runs exactly once, on its caller's goroutine, also
// when calls wait for the writer together and one of them fails (issue 13,
// defect 5: the group commit of earlier versions ran the others a second
// time).
func TestEachWriteFunctionRunsOnce(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)), testutil.WithLogger(discardLogger()))
	const n = 4
	var runs [n]atomic.Int32
	var started atomic.Int32
	var wg sync.WaitGroup
	release := e.HoldWriter()
	for i := range n {
		wg.Go(func() {
			started.Add(1)
			if err := e.WriteCall(e.ctx, func() { runs[i].Add(1) }); err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Go(func() {
		started.Add(1)
		if err := e.WriteCall(e.ctx, func() { panic("a bug") }); service.KindOf(err) != service.KindInternal {
			t.Errorf("the panicking call returned %v, want an internal error", err)
		}
	})
	testutil.WaitFor(t, func() bool { return started.Load() == n+1 })
	release()
	wg.Wait()
	for i := range runs {
		if got := runs[i].Load(); got != 1 {
			t.Errorf("write function %d ran %d times, want once", i, got)
		}
	}
}

// A call that fails after changing the database leaves no trace, in the
// database or in memory.
func TestAFailingCallLeavesNoTrace(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 2)))
	id := e.create(one())
	if err := e.StopThenFail(e.ctx); service.KindOf(err) != service.KindConflict {
		t.Fatalf("the failing call returned %v", err)
	}
	e.wantState(e.create(one()), service.StatePower) // not stopped in memory
	e.Restart(t)
	e.wantState(e.create(one()), service.StatePower) // nor in the database
	e.wantState(id, service.StatePower)
	e.consistent()
}
