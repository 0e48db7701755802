package service_test

import (
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
)

// A job's client address is kept in the database (issue 14, item 12): it
// is there after a restart. Keepalives from the same address write
// nothing; a new address is written once.
func TestKeepaliveHostSurvivesRestart(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one(), fromHost("10.0.0.1"))
	commits := func() uint64 {
		st, err := e.Stats(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.WriteTransactions
	}
	before := commits()
	for range 100 {
		e.JobState(e.ctx, id, "10.0.0.1")
		e.Keepalive(e.ctx, id, "10.0.0.1")
	}
	if n := commits() - before; n != 0 {
		t.Fatalf("%d transactions for keepalives from the job's own address, want none", n)
	}
	e.Keepalive(e.ctx, id, "10.0.0.2")
	e.JobState(e.ctx, id, "10.0.0.2")
	if n := commits() - before; n != 1 {
		t.Fatalf("%d transactions after a new address, want 1", n)
	}
	e.Restart(t)
	if h := e.status(id).KeepaliveHost; h == nil || *h != "10.0.0.2" {
		t.Fatalf("keepalivehost after a restart: %v, want 10.0.0.2", ptrStr(h))
	}
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != 1 || jobs[0].KeepaliveHost != "10.0.0.2" {
		t.Fatalf("list_jobs after a restart: %+v", jobs)
	}
	e.consistent()
}
