package tcpserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// 200 connections at once create, poll, keep alive and destroy jobs, with
// pipelined requests from several goroutines per connection: every reply
// must be the one for its request, every connection must be told about its
// own job, and nothing may be left running afterwards.
func TestManyConnections(t *testing.T) {
	const conns = 200
	t.Run("run", func(t *testing.T) {
		toml := testutil.GridTOML(testutil.Grid{Name: "big", Width: 10, Height: 7}) // 210 boards
		h := newHarness(t, toml, harnessOptions{bmps: true, powerDelay: 5 * time.Millisecond, linkDelay: time.Millisecond})

		ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
		defer cancel()
		ids := make([]int64, conns) // job of connection i; its keepalive is 1000+i
		var created, polled sync.WaitGroup
		created.Add(conns)
		polled.Add(conns)
		errs := make(chan error, conns)
		for i := range conns {
			go func() {
				errs <- oneClient(ctx, h.addr, i, ids, &created, &polled)
			}()
		}
		for range conns {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	// The harness and every client are closed: nothing of theirs may run.
	goleak.VerifyNone(t)
}

// oneClient is connection i of TestManyConnections. It must call Done on
// both wait groups exactly once whatever happens.
func oneClient(ctx context.Context, addr string, i int, ids []int64, created, polled *sync.WaitGroup) (err error) {
	createdDone, polledDone := false, false
	defer func() {
		if !createdDone {
			created.Done()
		}
		if !polledDone {
			polled.Done()
		}
	}()
	fail := func(format string, a ...any) error {
		return fmt.Errorf("client %d: "+format, append([]any{i}, a...)...)
	}

	c, err := client.Dial(ctx, addr)
	if err != nil {
		return fail("dial: %v", err)
	}
	defer c.Close()
	watchAll := i%10 == 0
	if watchAll {
		if err := c.NotifyJob(ctx, nil); err != nil {
			return fail("notify_job: %v", err)
		}
	}
	id, err := c.CreateJob(ctx, nil, map[string]any{"owner": fmt.Sprintf("user-%d", i), "keepalive": float64(1000 + i)})
	if err != nil {
		return fail("create_job: %v", err)
	}
	ids[i] = id
	if !watchAll {
		if err := c.NotifyJob(ctx, &id); err != nil {
			return fail("notify_job: %v", err)
		}
	}
	created.Done()
	createdDone = true
	created.Wait()

	// Pipelined polling of everyone's jobs from four goroutines: each
	// reply's keepalive says which job it describes.
	byID := map[int64]int{}
	for j, jid := range ids {
		byID[jid] = j
	}
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	var wg sync.WaitGroup
	perr := make(chan error, 4)
	for g := range 4 {
		targets := make([]int64, 25)
		for k := range targets {
			targets[k] = ids[rng.IntN(len(ids))]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, jid := range targets {
				if (k+g)%5 == 0 {
					if err := c.JobKeepalive(ctx, id); err != nil {
						perr <- fail("job_keepalive: %v", err)
						return
					}
					continue
				}
				st, err := c.GetJobState(ctx, jid)
				if err != nil {
					perr <- fail("get_job_state(%d): %v", jid, err)
					return
				}
				want := float64(1000 + byID[jid])
				if st.Keepalive == nil || *st.Keepalive != want || st.State < client.StateQueued || st.State > client.StateReady {
					perr <- fail("get_job_state(%d) answered %+v: the reply of another request", jid, st)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(perr)
	if err := <-perr; err != nil {
		return err
	}
	polled.Done()
	polledDone = true
	polled.Wait()

	reason := fmt.Sprintf("done-%d", i)
	if err := c.DestroyJob(ctx, id, &reason); err != nil {
		return fail("destroy_job: %v", err)
	}
	st, err := c.GetJobState(ctx, id)
	if err != nil {
		return fail("get_job_state after destroy: %v", err)
	}
	if st.State != client.StateDestroyed || st.Reason == nil || *st.Reason != reason {
		return fail("after destroy: %+v", st)
	}
	// Told about its own job (it was allocated, powered and destroyed),
	// and about nothing it does not watch.
	for {
		select {
		case n := <-c.Notifications():
			if !watchAll && slices.ContainsFunc(n.JobsChanged, func(j int64) bool { return j != id }) {
				return fail("told about jobs %v, watching only %d", n.JobsChanged, id)
			}
			if slices.Contains(n.JobsChanged, id) {
				return nil
			}
		case <-ctx.Done():
			return fail("no notification about job %d", id)
		}
	}
}
