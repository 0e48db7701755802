package service_test

// BMP operations: ordering, superseding, claiming, delayed freeing,
// failures and restarts (docs/architecture.md, "BMP control").

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func TestNewerRequestSupersedesUnclaimedOnes(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(rect(1, 1))
	e.destroy(id)
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOff] != 3 || len(ops) != 3 {
		t.Fatalf("after destroy before any claim: %v, want only the 3 power-offs", kinds)
	}
	e.completeOps(ops, nil)
	e.consistent()
}

func TestLaterOpsWaitForTheClaimedOneOfTheirBoard(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a := e.create(rect(1, 1))
	_, first := e.opKinds() // power-ons and link-offs of job a, now in flight
	e.destroy(a)
	b := e.create(rect(1, 1)) // the other triad: free
	kinds, ops := e.opKinds()
	for _, op := range ops {
		if op.JobID == nil || *op.JobID != b {
			t.Fatalf("handed out %v for job %v while job %d's operations on that board are in flight", op.Kind, op.JobID, a)
		}
	}
	if kinds[service.OpPowerOn] != 3 {
		t.Fatalf("job b: %v", kinds)
	}
	e.completeOps(ops, nil)
	e.completeOps(first, nil)
	kinds, ops = e.opKinds()
	if kinds[service.OpPowerOff] != 3 || len(ops) != 3 {
		t.Fatalf("after the in-flight ones completed: %v, want job a's power-offs", kinds)
	}
	e.completeOps(ops, nil)
	e.consistent()
}

// ClaimAllBMPOps hands out in one call what ClaimBMPOps hands out BMP by
// BMP, in request order, and keeps the per-board order rule across calls.
func TestClaimAllBMPOpsClaimsForEveryBMPAtOnce(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a, b := e.create(rect(1, 1)), e.create(rect(1, 1))
	bmps, _ := e.BMPs(e.ctx)
	var ids []int64
	for _, bmp := range bmps {
		ids = append(ids, bmp.ID)
	}
	perBMP := testutil.ClaimAll(t, e.Service.Service)               // BMP by BMP
	e.Restart(t)                                                    // unclaims them
	all, err := e.ClaimAllBMPOps(e.ctx, append(ids, ids[0], 12345)) // repeats and unknown BMPs add nothing
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(all, func(x, y service.BMPOp) int { return cmp.Compare(x.ID, y.ID) }) {
		t.Fatalf("operations not in request order: %v", all)
	}
	slices.SortFunc(perBMP, func(x, y service.BMPOp) int { return cmp.Compare(x.ID, y.ID) })
	// Per job: 3 power-ons and 3 link-offs (the 8 links leaving a triad).
	if !reflect.DeepEqual(all, perBMP) || len(all) != 2*(3+3) || linksOff(all) != 2*8 {
		t.Fatalf("ClaimAllBMPOps gave %d operations, ClaimBMPOps per BMP %d:\n%v\n%v", len(all), len(perBMP), all, perBMP)
	}
	if again, _ := e.ClaimAllBMPOps(e.ctx, ids); len(again) != 0 {
		t.Fatalf("claimed operations handed out twice: %v", again)
	}
	e.destroy(a) // its power-offs wait for its claimed operations
	if held, _ := e.ClaimAllBMPOps(e.ctx, ids); len(held) != 0 {
		t.Fatalf("handed out %v while job %d's operations on those boards are in flight", held, a)
	}
	e.completeOps(all, nil)
	e.wantState(b, service.StateReady)
	kinds, _ := e.opKinds()
	if kinds[service.OpPowerOff] != 3 || len(kinds) != 1 {
		t.Fatalf("after completion: %v, want job %d's 3 power-offs", kinds, a)
	}
	e.consistent()
}

func TestStaleAndUnknownResultsAreIgnored(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one())
	_, ops := e.opKinds()
	e.completeOps(ops, nil)
	e.wantState(id, service.StateReady)
	e.completeOps(ops, errBMP) // again, now failing: already done
	if err := e.CompleteBMPOps(e.ctx, []service.OpResult{{OpID: 12345}}); err != nil {
		t.Fatal(err)
	}
	e.wantState(id, service.StateReady)
	e.consistent()
}

func TestFreeDelayKeepsBoardsAfterPowerOff(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1))+"[server]\nfree_delay = \"30s\"\n")
	a := e.create(rect(1, 1))
	b := e.create(rect(1, 1))
	e.finish()
	e.destroyAndFree(a)
	e.tick()
	e.wantState(b, service.StateQueued)
	e.Clock.Advance(29 * time.Second)
	e.Keepalive(e.ctx, b, "")
	e.tick()
	e.wantState(b, service.StateQueued)
	e.Clock.Advance(2 * time.Second)
	e.tick()
	e.wantOn(b, "m")
	e.consistent()
}

// The power-off grace frees boards whose power-off does not complete, but
// never while a worker holds an operation for them under a live lease.
func TestPowerOffGraceFreesBoardsOfAnUnreachableBMP(t *testing.T) {
	const grace = 10 * time.Second
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1))+"[bmp]\nunreachable_free_after = \"10s\"\n")
	a := e.create(rect(1, 1), noKeepalive())
	b := e.create(rect(1, 1), noKeepalive())
	e.finish()
	e.destroy(a)
	_, ops := e.opKinds() // claimed, never answered
	lease := ops[0].LeaseUntil.Sub(e.Clock.Now())
	if lease <= grace+time.Second {
		t.Fatalf("lease of a power-off %v, want more than the grace", lease)
	}
	e.Clock.Advance(lease - time.Second) // the grace has run out, the lease not
	e.tick()
	e.wantState(b, service.StateQueued)
	e.Clock.Advance(2 * time.Second) // the lease has lapsed: the worker is gone
	e.tick()
	e.wantOn(b, "m")
	e.finish()
	e.wantState(b, service.StateReady)
	e.consistent()
}

func TestRestartHandsClaimedOpsOutAgain(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one())
	_, ops := e.opKinds()
	if len(ops) != 2 { // power on, disable its 6 links
		t.Fatalf("%d operations", len(ops))
	}
	if _, again := e.opKinds(); len(again) != 0 {
		t.Fatalf("claimed operations handed out twice: %d", len(again))
	}
	e.Restart(t)
	_, again := e.opKinds()
	if len(again) != 2 {
		t.Fatalf("after restart %d operations handed out, want 2", len(again))
	}
	e.completeOps(ops, nil) // the old worker's results still count once
	e.wantState(id, service.StateReady)
	e.completeOps(again, nil)
	e.consistent()
}

// The operations of one request on several boards of a BMP share a row;
// those that end leave the others open, as they were, across a restart.
func TestOperationsOfOneRequestEndOneByOne(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(rect(1, 1))
	_, ops := e.opKinds()
	var powerOns []service.BMPOp
	for _, op := range ops {
		if op.Kind == service.OpPowerOn {
			powerOns = append(powerOns, op)
		}
	}
	if len(powerOns) != 3 {
		t.Fatalf("%d power-ons for the 3 boards of a frame", len(powerOns))
	}
	e.completeOps(powerOns[:1], nil)
	e.Restart(t)
	_, again := e.opKinds()
	want := slices.DeleteFunc(slices.Clone(ops), func(op service.BMPOp) bool { return op.ID == powerOns[0].ID })
	if !slices.EqualFunc(again, want, func(a, b service.BMPOp) bool { return a.ID == b.ID && a.Board == b.Board && a.Kind == b.Kind }) {
		t.Fatalf("after one power-on and a restart %v handed out, want %v", again, want)
	}
	e.wantState(id, service.StatePower)
	e.completeOps(again, nil)
	e.wantState(id, service.StateReady)
	e.consistent()
}

// A released claim is handed out again; ids of unknown or unclaimed
// operations are ignored.
func TestReleasedOpsAreHandedOutAgain(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one())
	_, ops := e.opKinds()
	if len(ops) != 2 { // power on, disable its 6 links
		t.Fatalf("%d operations", len(ops))
	}
	if err := e.ReleaseBMPOps(e.ctx, []int64{ops[0].ID, ops[1].ID, 99999}); err != nil {
		t.Fatal(err)
	}
	_, again := e.opKinds()
	if len(again) != 2 || again[0].ID != ops[0].ID || again[1].ID != ops[1].ID {
		t.Fatalf("after the release %v handed out, want %v", again, ops)
	}
	e.completeOps(again, nil)
	e.wantState(id, service.StateReady)
	e.consistent()
}

func TestFailedPowerOffTakesTheBoardOutOfService(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	a := e.create(one())
	e.finish()
	board := e.boards(a)[0]
	e.destroy(a)
	testutil.FailAllOps(t, e.Service.Service, errBMP)
	ms, _ := e.ListMachines(e.ctx)
	if !sameBoards(ms[0].DeadBoards, []geometry.Board{board}) {
		t.Fatalf("dead boards %v, want %v", ms[0].DeadBoards, board)
	}
	for range 2 {
		if got := e.boards(e.create(one()))[0]; got == board {
			t.Fatalf("the failed board %v was allocated again", board)
		}
	}
	e.wantState(e.create(one()), service.StateQueued)
	e.consistent()
}

// A machine re-created with a pending power-off: the new row of the same
// physical board waits for it, and gets the operation.
func TestMajorChangeCarriesPendingPowerOff(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	a := e.create(rect(1, 1))
	e.finish()
	e.Apply(t, testutil.GridTOML(grid("m", 2, 1))) // wider: a major change
	e.wantDestroyed(a, service.ReasonMachineRemoved)
	b := e.create(rect(1, 1))
	c := e.create(rect(1, 1))
	e.wantOn(b, "m")
	if e.boards(b)[0].X != 1 {
		t.Fatalf("job b got %v while triad 0 is powering off", e.boards(b))
	}
	e.wantState(c, service.StateQueued)
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOff] != 3 {
		t.Fatalf("pending operations %v", kinds)
	}
	bmps, _ := e.BMPs(e.ctx)
	for _, op := range ops {
		if op.Kind == service.OpPowerOff && !hasBMP(bmps, op.BMPID, "m") {
			t.Fatalf("power-off on BMP %d, not one of the live machine's", op.BMPID)
		}
	}
	e.completeOps(ops, nil)
	e.wantOn(c, "m")
	e.finish()
	e.consistent()
}

func hasBMP(bmps []service.BMPEndpoint, id int64, machine string) bool {
	for _, b := range bmps {
		if b.ID == id && b.Machine == machine {
			return true
		}
	}
	return false
}

// removedMachineOwingPowerOffs removes machine m0 while a job holds its
// board, so that its power-off is still to be done, and lists the BMPs.
func removedMachineOwingPowerOffs(t *testing.T) (*env, []service.BMPEndpoint) {
	t.Helper()
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1)))
	a := e.create(rect(1, 1))
	e.finish()
	e.Apply(t, testutil.GridTOML(testutil.Grid{Name: "m1", Width: 1, Height: 1, BMPPrefix: "10.2", BoardPrefix: "12"}))
	e.wantDestroyed(a, service.ReasonMachineRemoved)
	bmps, err := e.BMPs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e, bmps
}

func TestRemovedMachineKeepsItsBMPUntilPoweredOff(t *testing.T) {
	e, bmps := removedMachineOwingPowerOffs(t)
	if !hasBMP(bmps, bmps[len(bmps)-1].ID, "m0") || len(bmps) != 2 {
		t.Fatalf("BMPs %+v, want m1's and m0's (power-offs pending)", bmps)
	}
	if n := e.finish(); n != 3 {
		t.Fatalf("%d operations, want the 3 power-offs", n)
	}
	bmps, _ = e.BMPs(e.ctx)
	if len(bmps) != 1 || bmps[0].Machine != "m1" {
		t.Fatalf("BMPs %+v", bmps)
	}
	e.consistent()
}

func TestEmergencyStopRefusesNewJobs(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	e.create(one())
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), e.DBPath, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.New(d.Write).SetServerState(e.ctx, db.SetServerStateParams{Key: "emergency_stop", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	e.Service.Service = reopen(t, e)
	_, err = e.CreateJob(e.ctx, request(one()))
	if service.KindOf(err) != service.KindUnavailable {
		t.Fatalf("create during emergency stop: %v", err)
	}
}

func reopen(t *testing.T, e *env) *service.Service {
	svc, err := service.Open(e.ctx, service.Options{DBPath: e.DBPath, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func TestReportProblem(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	x := 3
	if err := e.ReportProblem(e.ctx, service.ProblemReport{IP: "11.0.0.1", ChipX: &x, ChipY: &x, Description: "smoke"}); err != nil {
		t.Fatal(err)
	}
	err := e.ReportProblem(e.ctx, service.ProblemReport{IP: "1.2.3.4"})
	if service.KindOf(err) != service.KindNotFound {
		t.Fatalf("unknown address: %v", err)
	}
}

// A machine renamed (same boards and BMPs) while its job's boards power
// off: the new machine's boards wait for those power-offs.
func TestRenamedMachineWaitsForPendingPowerOff(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("old", 1, 1)))
	a := e.create(rect(1, 1))
	e.finish()
	rep := e.Apply(t, testutil.GridTOML(grid("new", 1, 1)))
	if len(rep.Added) != 1 || len(rep.Removed) != 1 {
		t.Fatalf("report %+v", rep)
	}
	e.wantDestroyed(a, service.ReasonMachineRemoved)
	b := e.create(rect(1, 1))
	e.wantState(b, service.StateQueued)
	bmps, _ := e.BMPs(e.ctx)
	if len(bmps) != 1 || bmps[0].Machine != "new" {
		t.Fatalf("BMPs %+v: the old machine's work should have moved to the new one", bmps)
	}
	e.finish()
	e.wantOn(b, "new")
	e.consistent()
}

// An operator sees which operations a worker has in hand (claims are kept
// in memory): claimed ones show when and their attempt; after a restart
// none is in hand. Finished operations leave no row behind.
func TestPendingOpsShowClaims(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	e.create(one())
	claimedAt := e.Clock.Now()
	_, ops := e.opKinds()
	pending, err := e.PendingOps(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(ops) || len(ops) == 0 {
		t.Fatalf("%d pending operations, %d claimed", len(pending), len(ops))
	}
	for _, p := range pending {
		if p.ClaimedAt == nil || !p.ClaimedAt.Equal(claimedAt) || p.LeaseUntil == nil || !p.LeaseUntil.After(claimedAt) || p.Attempts != 1 {
			t.Errorf("claimed operation %d shows claimed_at %v, attempts %d; want %v, 1", p.ID, p.ClaimedAt, p.Attempts, claimedAt)
		}
	}
	e.Restart(t)
	pending, err = e.PendingOps(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		if p.ClaimedAt != nil || p.Attempts != 0 {
			t.Errorf("after a restart operation %d shows claimed_at %v, attempts %d; want none, 0", p.ID, p.ClaimedAt, p.Attempts)
		}
	}
	e.finish()
	d, err := db.Open(e.ctx, e.DBPath, db.Options{ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var rows int
	if err := d.Read.QueryRowContext(e.ctx, "SELECT count(*) FROM bmp_ops").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d rows left in bmp_ops after every operation finished; finished operations leave none", rows)
	}
}

// A machine re-created while an operator has a board out of service: the
// board's new row is still out of service, with the same reason, since the
// same time and by the same operator.
func TestMajorChangeKeepsWhoTookABoardOutOfService(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	b := geometry.Board{X: 0, Y: 0, Z: 1}
	ctx := service.WithActor(e.ctx, "alice", "192.0.2.7")
	if err := e.TakeBoardOutOfService(ctx, "m", b, "loose cable", false); err != nil {
		t.Fatal(err)
	}
	before := e.boardInfo("m", b)
	e.Clock.Advance(time.Hour)
	e.Apply(t, testutil.GridTOML(grid("m", 2, 1))) // wider: a major change
	after := e.boardInfo("m", b)
	switch {
	case after.OutOfService == nil || *after.OutOfService != "loose cable":
		t.Errorf("out of service %v after the change, want \"loose cable\"", after.OutOfService)
	case after.OutOfServiceBy == nil || *after.OutOfServiceBy != "alice":
		t.Errorf("out of service by %v after the change, want alice", after.OutOfServiceBy)
	case after.OutOfServiceAt == nil || !after.OutOfServiceAt.Equal(*before.OutOfServiceAt):
		t.Errorf("out of service since %v after the change, want %v", after.OutOfServiceAt, before.OutOfServiceAt)
	}
	e.consistent()
}
