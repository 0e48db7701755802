package bmp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// Claims are never lost: outcomes the service cannot record yet are kept
// and recorded later, and a worker that stops gives back what it claimed.

// failingCompletes is the real service whose CompleteBMPOps fails a given
// number of times (as a full disk would make it), counting the claims made
// while outcomes were owed.
type failingCompletes struct {
	*service.Service

	mu          sync.Mutex
	failures    int  // CompleteBMPOps calls still to fail
	failed      int  // CompleteBMPOps calls failed so far
	owed        bool // a call failed and none has succeeded since
	claimsOwing int  // ClaimBMPOps calls that returned ops while owed
}

func (f *failingCompletes) CompleteBMPOps(ctx context.Context, results []service.OpResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		f.failed++
		f.owed = true
		return errors.New("disk I/O error (injected)")
	}
	if err := f.Service.CompleteBMPOps(ctx, results); err != nil {
		return err
	}
	f.owed = false
	return nil
}

func (f *failingCompletes) ClaimBMPOps(ctx context.Context, bmpID int64) ([]service.BMPOp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops, err := f.Service.ClaimBMPOps(ctx, bmpID)
	if len(ops) > 0 && f.owed {
		f.claimsOwing++
	}
	return ops, err
}

func (f *failingCompletes) counts() (failed, claimsOwing int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.claimsOwing
}

// TestOutcomesAreRecordedAfterFailures: recording outcomes fails five
// times in a row (about 1.5 s with the backoff); the worker keeps them,
// claims nothing meanwhile, and records them once the service takes them:
// both jobs become ready and no operation is left open.
func TestOutcomesAreRecordedAfterFailures(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	be := &failingCompletes{Service: r.svc.Service, failures: 5}
	r.startWith(bmp.NewManagerWith(be, r.svc.Subscribe, r.managerOptions(fastBMP())))
	first := r.create(oneBoard())
	testutil.WaitFor(t, func() bool { failed, _ := be.counts(); return failed > 0 })
	second := r.create(oneBoard()) // queued while the first job's outcomes are owed
	for _, id := range []int64{first, second} {
		r.awaitState(id, service.StateReady)
		machine, boards := r.jobBoards(id)
		r.checkJobHardware(machine, 1, 1, boards)
	}
	if failed, claims := be.counts(); failed != 5 || claims != 0 {
		t.Errorf("%d recordings failed (want 5), %d claims made while outcomes were owed (want 0)", failed, claims)
	}
	if ops, err := r.svc.PendingOps(r.ctx); err != nil || len(ops) != 0 {
		t.Errorf("open operations %+v (%v), want none", ops, err)
	}
	r.consistent()
}

// TestStoppedWorkerReleasesItsClaims: a worker stopped while a power-on
// is on the wire, for longer than the stop grace, releases the operations
// it claimed and did not finish; a new manager on the same service (no
// restart) carries them out and the job becomes ready.
func TestStoppedWorkerReleasesItsClaims(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	srv := r.fake("m", 0, 0)
	srv.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Power: fakebmp.PowerOn, Count: 1, Action: fakebmp.Delay(time.Second)})
	s := fastBMP()
	s.PowerOnTimeout = 10 * time.Second
	r.start(s) // stop grace 50ms
	id := r.create(oneBoard())
	srv.Await(r.ctx, func() bool { return srv.Count(scp.CmdPower) > 0 })
	r.stop()
	if st := r.status(id); st.State != service.StatePower {
		t.Fatalf("job is %v after the stop, want still powering", st.State)
	}

	r.start(fastBMP())
	r.awaitState(id, service.StateReady)
	machine, boards := r.jobBoards(id)
	r.checkJobHardware(machine, 1, 1, boards)
	if ops, err := r.svc.PendingOps(r.ctx); err != nil || len(ops) != 0 {
		t.Errorf("open operations %+v (%v), want none", ops, err)
	}
	r.consistent()
}
