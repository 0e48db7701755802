package service_test

// Group commit: changes that queue up behind a transaction are committed
// together, each as if alone, and one failing change undoes no other.

import (
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func TestChangesQueuedBehindTheWriterCommitTogether(t *testing.T) {
	for _, tc := range []struct {
		name        string
		failing     bool
		wantCommits uint64 // for 8 creations (and the failing call)
	}{
		{"all succeed: one transaction", false, 1},
		{"one fails: the others redone alone", true, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			calls := n
			if tc.failing {
				calls++
				wg.Go(func() {
					failErr = e.TakeBoardOutOfService(e.ctx, "no-such-machine", geometry.Board{}, "test", false)
				})
			}
			waitFor(t, func() bool { return e.QueuedWrites() == calls })
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
			if tc.failing && service.KindOf(failErr) != service.KindNotFound {
				t.Fatalf("the failing call returned %v, want not found", failErr)
			}
			after, err := e.Stats(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := after.WriteCalls - before.WriteCalls; got != uint64(calls) {
				t.Errorf("%d write calls counted, want %d", got, calls)
			}
			if got := after.WriteTransactions - before.WriteTransactions; got != tc.wantCommits {
				t.Errorf("%d transactions committed, want %d", got, tc.wantCommits)
			}
			e.finish()
			for _, id := range ids {
				e.wantState(id, service.StateReady)
			}
			e.Restart(t) // every answered change was committed
			for _, id := range ids {
				e.wantState(id, service.StateReady)
			}
			e.consistent()
		})
	}
}

// waitFor polls cond until it holds (other goroutines are getting there).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
