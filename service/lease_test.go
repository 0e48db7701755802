package service_test

// Claims of BMP operations are leases (issue 13, defect 1): a worker that
// never reports its operations does not hold them, or their boards,
// forever.

import (
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// The case: a job's operations are claimed and never reported, the
// job is destroyed; an hour later (the power-off grace is a minute) the
// boards are free again and their power-offs can be claimed.
func TestLapsedClaimsAreHandedOutAgain(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1))+"[bmp]\nunreachable_free_after = \"1m\"\n")
	id := e.create(rect(1, 1), noKeepalive())
	if _, ops := e.opKinds(); len(ops) != 3 { // claimed by a worker that is never heard of again
		t.Fatalf("%d operations claimed, want 3 power-ons", len(ops))
	}
	e.destroy(id)
	e.Clock.Advance(time.Hour)
	e.tick()
	for bd, s := range e.boardStates("m") {
		if s == service.BoardWaiting {
			t.Errorf("board %v still waiting an hour later", bd)
		}
	}
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOff] != 3 || len(ops) != 3 {
		t.Fatalf("claimable after the lease: %v, want the 3 power-offs", kinds)
	}
	e.consistent()
	next := e.create(rect(1, 1))
	e.completeOps(ops, nil)
	e.finish()
	e.wantState(next, service.StateReady)
	e.consistent()
}

// A claim lasts as long as its operations can take under the [bmp]
// settings: before the lease runs out nothing is handed out again; after
// it, the consistency check reports the claim until the timed work hands
// it back, and the operations are handed out again in order.
func TestLeaseFollowsTheBMPSettings(t *testing.T) {
	bmp := "[bmp]\ntimeout = \"2s\"\nretries = 1\npower_on_timeout = \"10s\"\npower_on_retries = 0\n" +
		"post_power_on_delay = \"5s\"\nfpga_check_rounds = 2\nrequest_attempts = 3\nrequest_retry_delay = \"7s\"\n"
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1))+bmp)
	id := e.create(one(), noKeepalive())
	_, ops := e.opKinds()
	// One attempt: 2 rounds of (power-on 10s + wait 5s + 4 reads of 2x2s)
	// = 62s, plus each link operation (a version read and one write per
	// link, 2x2s each); three attempts and two waits of 7s between them;
	// plus the margin of 10 s.
	attempt := 62 * time.Second
	for _, op := range ops {
		if op.Kind == service.OpLinkOff {
			attempt += time.Duration(1+len(op.Links)) * 4 * time.Second
		}
	}
	want := 3*attempt + 2*7*time.Second + 10*time.Second
	for _, op := range ops {
		if got := op.LeaseUntil.Sub(e.Clock.Now()); got != want {
			t.Fatalf("lease of operation %d (%s): %v, want %v", op.ID, op.Kind, got, want)
		}
	}
	e.Clock.Advance(want - time.Second)
	e.tick()
	if _, again := e.opKinds(); len(again) != 0 {
		t.Fatalf("handed out again within the lease: %+v", again)
	}
	e.consistent()
	e.Clock.Advance(time.Second)
	problems, err := e.CheckConsistency(e.ctx)
	if err != nil || len(problems) != len(ops) || !strings.Contains(problems[0], "lease ran out") {
		t.Fatalf("consistency check with lapsed claims: %v %v, want one problem per claim", problems, err)
	}
	e.tick()
	e.consistent()
	_, again := e.opKinds()
	if len(again) != len(ops) || again[0].ID != ops[0].ID {
		t.Fatalf("after the lease: %+v, want %+v handed out again", again, ops)
	}
	e.completeOps(again, nil)
	e.wantState(id, service.StateReady)
	e.consistent()
}

// A worker gives its claims back (it stops, or will not attempt them):
// they are handed out again at once; a claim given back after a newer
// power request for its board is superseded instead.
func TestReleasedClaimsAreHandedOutAgain(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a, b := e.create(rect(1, 1)), e.create(rect(1, 1))
	boardsOfA := e.boards(a)
	_, ops := e.opKinds()
	if len(ops) != 12 {
		t.Fatalf("%d operations claimed, want 12", len(ops))
	}
	ids := func(ops []service.BMPOp, job int64) []int64 {
		var out []int64
		for _, op := range ops {
			if *op.JobID == job {
				out = append(out, op.ID)
			}
		}
		return out
	}
	e.destroy(a) // its power-offs are held back by its claimed operations
	if err := e.ReleaseBMPOps(e.ctx, append(ids(ops, a), ids(ops, b)...)); err != nil {
		t.Fatal(err)
	}
	if err := e.ReleaseBMPOps(e.ctx, []int64{12345, ids(ops, b)[0]}); err != nil { // unknown, not claimed: ignored
		t.Fatal(err)
	}
	kinds, again := e.opKinds()
	if len(again) != 6+3 || kinds[service.OpPowerOff] != 3 {
		t.Fatalf("after the release: %v %+v, want job %d's 6 operations again and job %d's 3 power-offs", kinds, again, b, a)
	}
	for _, op := range again {
		if *op.JobID == a && op.Kind != service.OpPowerOff {
			t.Errorf("operation %d of destroyed job %d handed out again: the newer power-off supersedes it", op.ID, a)
		}
	}
	e.completeOps(again, nil)
	e.wantState(b, service.StateReady)
	e.wantState(a, service.StateDestroyed)
	states := e.boardStates("m")
	for _, bd := range boardsOfA {
		if states[bd] != service.BoardFree {
			t.Errorf("board %v of the destroyed job is %s, want %s", bd, states[bd], service.BoardFree)
		}
	}
	e.consistent()
}

// A claim's operations of one board are handed out in order also when a
// claim lapses: the board's later operations wait until it is handed back.
func TestLapsedClaimHoldsItsBoardUntilHandedBack(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(board(0, 0, 0), noKeepalive())
	_, ops := e.opKinds()
	e.PowerOffJob(e.ctx, id, "") // a newer request for the board
	e.Clock.Advance(ops[0].LeaseUntil.Sub(e.Clock.Now()))
	if _, held := e.opKinds(); len(held) != 0 {
		t.Fatalf("handed out %+v while the board's lapsed claim is not handed back", held)
	}
	e.tick() // hands it back: superseded by the power-off
	kinds, again := e.opKinds()
	if len(again) != 1 || kinds[service.OpPowerOff] != 1 || again[0].Board != (geometry.Board{}) {
		t.Fatalf("after the lapse: %v, want the power-off alone", kinds)
	}
	e.completeOps(again, nil)
	e.wantPower(id, service.StateReady, false)
	e.consistent()
}

// A restart hands the claims of the last run back as a worker's release
// would: an operation with a newer power request for its board is
// superseded, so a claim never holds two power operations for one board.
func TestRestartReleasesClaimsLikeAWorker(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(board(0, 0, 0), noKeepalive())
	e.opKinds() // power on and links in flight when the server stops
	e.destroy(id)
	e.Restart(t)
	kinds, ops := e.opKinds()
	if len(ops) != 1 || kinds[service.OpPowerOff] != 1 {
		t.Fatalf("after a restart: %v %+v, want the power-off alone", kinds, ops)
	}
	e.completeOps(ops, nil)
	e.consistent()
}
