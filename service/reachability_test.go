package service_test

// BMP reachability (README, board states; JOB-09): a BMP that does not answer makes its
// boards unavailable without taking them out of service, until it answers.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

var errNoReply = errors.New("bmp 10.1.0.0: power on boards [0]: no reply after 2 attempt(s) of 300ms")

// bmpOf is the id of the BMP of frame (cabinet, frame) of a machine.
func (e *env) bmpOf(machine string, cabinet, frame int) int64 {
	e.t.Helper()
	eps, err := e.BMPs(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ep := range eps {
		if ep.Machine == machine && ep.Cabinet == cabinet && ep.Frame == frame {
			return ep.ID
		}
	}
	e.t.Fatalf("no BMP for %s c%d f%d", machine, cabinet, frame)
	return 0
}

func (e *env) setReachable(bmp int64, reachable bool, reason string) {
	e.t.Helper()
	if err := e.SetBMPReachable(e.ctx, bmp, reachable, reason); err != nil {
		e.t.Fatalf("set BMP %d reachable=%v: %v", bmp, reachable, err)
	}
}

// completeDown reports every op as failed because its BMP did not answer.
func (e *env) completeDown(ops []service.BMPOp) {
	e.t.Helper()
	res := make([]service.OpResult, len(ops))
	for i, op := range ops {
		res[i] = service.OpResult{OpID: op.ID, Err: errNoReply, BMPDown: true}
	}
	if err := e.CompleteBMPOps(e.ctx, res); err != nil {
		e.t.Fatal(err)
	}
}

// boardStates maps each board of a machine's board map to its state.
func (e *env) boardStates(machine string) map[geometry.Board]string {
	e.t.Helper()
	out := map[geometry.Board]string{}
	for _, b := range e.detail(machine).Boards {
		out[b.Board] = b.State()
	}
	return out
}

func (e *env) bmpState(machine string, id int64) service.BMPState {
	e.t.Helper()
	for _, b := range e.detail(machine).BMPs {
		if b.ID == id {
			return b
		}
	}
	e.t.Fatalf("machine %s has no BMP %d", machine, id)
	return service.BMPState{}
}

func (e *env) deadBoards(machine string) []geometry.Board {
	e.t.Helper()
	return e.machineSummary(machine).DeadBoards
}

func b(x, y, z int) geometry.Board { return geometry.Board{X: x, Y: y, Z: z} }

// JOB-09 with a BMP that does not answer (issue 13, defect 2): the job is
// not destroyed but queued again, waiting for the BMP by name; its board is
// not taken out of service; new jobs wait too; once the BMP answers, both
// are placed.
func TestJOB09UnreachableBMPThenHealthyAgain(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	bmp := e.bmpOf("m", 0, 0)
	id := e.create(one())
	first := e.boards(id)[0]
	if first != b(0, 0, 0) {
		t.Fatalf("first job got %v", first)
	}
	_, ops := e.opKinds()
	e.completeDown(ops)
	e.wantState(id, service.StateQueued)
	e.wantWaitingFor(id, "the BMP of cabinet 0, frame 0 (10.1.0.0)")

	st := e.bmpState("m", bmp)
	if !st.Unreachable || st.UnreachableSince == nil || st.LastError == nil || *st.LastError != errNoReply.Error() {
		t.Fatalf("BMP after no reply: %+v", st)
	}
	want := map[geometry.Board]string{first: service.BoardWaiting, b(0, 0, 1): service.BoardUnreachable, b(0, 0, 2): service.BoardUnreachable}
	if got := e.boardStates("m"); !equalMaps(got, want) {
		t.Fatalf("board map %v, want %v", got, want)
	}
	if got := e.deadBoards("m"); len(got) != 3 {
		t.Fatalf("list_machines dead boards %v, want the BMP's 3 boards", got)
	}
	second := e.create(one()) // the machine could hold it: it waits
	e.wantState(second, service.StateQueued)
	e.consistent()

	// The power-off of the first board is asked again, not lost.
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOff] != 1 || len(ops) != 1 || ops[0].Board != first {
		t.Fatalf("pending after the failure: %v %+v, want the first board's power-off", kinds, ops)
	}
	e.completeDown(ops) // still down: asked again once more
	e.setReachable(bmp, true, "")
	if st := e.bmpState("m", bmp); st.Unreachable || st.LastError == nil {
		t.Fatalf("BMP after it answered: %+v, want reachable with the last error kept", st)
	}
	e.finish() // the power-off gets through, the jobs are powered
	e.wantState(id, service.StateReady)
	e.wantState(second, service.StateReady)
	for bd, s := range e.boardStates("m") {
		if s == service.BoardOutOfService {
			t.Errorf("board %v out of service", bd)
		}
	}
	e.consistent()
}

// wantWaitingFor checks that a queued job's waiting reason names what.
func (e *env) wantWaitingFor(id int64, what string) {
	e.t.Helper()
	d, err := e.JobDetail(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if d.Waiting == nil || !strings.Contains(d.Waiting.Reason, what) {
		e.t.Fatalf("job %d waits %+v, want a reason naming %q", id, d.Waiting, what)
	}
}

// A BMP found unreachable (e.g. at start) leaves jobs on other BMPs alone;
// a ready job on it keeps its boards; new jobs go to the boards of other
// BMPs; its boards return when it answers.
func TestUnreachableBMPAtStart(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 2)))
	bmp0, bmp1 := e.bmpOf("m", 0, 0), e.bmpOf("m", 0, 1)
	ready := e.create(rect(1, 1))
	e.finish()
	e.wantState(ready, service.StateReady)
	if e.boards(ready)[0].Y != 0 {
		t.Fatalf("first job on %v, want triad (0,0)", e.boards(ready))
	}

	e.setReachable(bmp0, false, "no reply to sver")
	e.setReachable(bmp0, false, "another reason") // already so: nothing changes
	if st := e.bmpState("m", bmp0); !st.Unreachable || *st.LastError != "no reply to sver" {
		t.Fatalf("BMP 0: %+v", st)
	}
	if st := e.bmpState("m", bmp1); st.Unreachable {
		t.Fatalf("BMP 1: %+v", st)
	}
	e.wantState(ready, service.StateReady) // its boards are not taken away
	other := e.create(rect(1, 1))
	e.finish()
	e.wantState(other, service.StateReady)
	if e.boards(other)[0].Y != 1 {
		t.Fatalf("job on %v, want triad (0,1)", e.boards(other))
	}
	waiting := e.create(board(0, 0, 2)) // held by the ready job
	e.wantState(waiting, service.StateQueued)
	e.consistent()

	e.destroy(ready) // its power-off waits for the BMP
	e.wantState(waiting, service.StateQueued)
	e.setReachable(bmp0, true, "")
	e.wantState(waiting, service.StateQueued) // until the power-off completes
	e.finish()
	e.wantState(waiting, service.StateReady)
	if got := e.boards(waiting); len(got) != 1 || got[0] != b(0, 0, 2) {
		t.Fatalf("waiting job got %v", got)
	}
	e.consistent()
}

// Jobs whose operations are queued for a BMP when it is found unreachable
// go back to the queue and land elsewhere.
func TestUnreachableBMPRequeuesJobsWaitingForIt(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 2)))
	id := e.create(rect(1, 1))
	if e.boards(id)[0].Y != 0 {
		t.Fatalf("job on %v", e.boards(id))
	}
	e.setReachable(e.bmpOf("m", 0, 0), false, "")
	e.wantState(id, service.StatePower)
	if got := e.boards(id); got[0].Y != 1 {
		t.Fatalf("re-queued job on %v, want triad (0,1)", got)
	}
	e.finish()
	e.wantState(id, service.StateReady)
	e.consistent()
}

// Queued jobs that only the unreachable BMP's machine could not hold are
// queued there again when it answers.
func TestReachableAgainServesTheQueues(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1)))
	e.setReachable(e.bmpOf("m0", 0, 0), false, "")
	a := e.create(rect(1, 1))
	e.wantOn(a, "m1")
	q := e.create(rect(1, 1)) // m1 is full, m0 cannot hold it now
	e.wantState(q, service.StateQueued)
	e.setReachable(e.bmpOf("m0", 0, 0), true, "")
	e.wantOn(q, "m0")
	e.finish()
	e.wantState(q, service.StateReady)
	e.consistent()
}

// A power-off that does not get through is asked again; the power-off
// grace frees the boards meanwhile, but they stay unavailable until the
// BMP answers.
func TestPowerOffOfAnUnreachableBMP(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1))+"[bmp]\nunreachable_free_after = \"1m\"\n")
	id := e.create(rect(1, 1), noKeepalive())
	e.finish()
	e.destroy(id)
	_, ops := e.opKinds()
	e.completeDown(ops)
	kinds := e.openOps()
	if kinds[service.OpPowerOff] != 3 {
		t.Fatalf("pending after the failed power-offs: %v, want 3 power-offs", kinds)
	}
	e.Clock.Advance(2 * time.Minute)
	e.tick()
	for bd, s := range e.boardStates("m") {
		if s != service.BoardUnreachable {
			t.Errorf("board %v is %s after the grace, want %s", bd, s, service.BoardUnreachable)
		}
	}
	next := e.create(rect(1, 1)) // waits for the BMP
	e.wantState(next, service.StateQueued)
	e.wantWaitingFor(next, "does not answer")
	e.consistent()
	e.setReachable(e.bmpOf("m", 0, 0), true, "")
	e.finish()
	e.wantState(next, service.StateReady)
	e.consistent()
}

// openOps counts the open operations by kind without claiming them.
func (e *env) openOps() map[service.OpKind]int {
	e.t.Helper()
	ops, err := e.PendingOps(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	kinds := map[service.OpKind]int{}
	for _, op := range ops {
		kinds[op.Kind]++
	}
	return kinds
}

// A board fault (the BMP answered with an error) still takes only that
// board out of service; the BMP stays reachable.
func TestBoardFaultIsNotABMPFailure(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	id, sick := e.jobWithASickBoard()
	e.wantState(id, service.StateReady)
	states := e.boardStates("m")
	for bd, s := range states {
		want := s
		switch {
		case bd == sick:
			want = service.BoardOutOfService
		case s == service.BoardUnreachable:
			want = "anything but " + service.BoardUnreachable
		}
		if s != want {
			t.Errorf("board %v is %s, want %s", bd, s, want)
		}
	}
	if st := e.bmpState("m", e.bmpOf("m", 0, 0)); st.Unreachable {
		t.Errorf("BMP marked unreachable after a board fault: %+v", st)
	}
	e.consistent()
}

// The state survives a restart, and an unknown BMP is NotFound.
func TestBMPReachabilitySurvivesRestart(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	bmp := e.bmpOf("m", 0, 0)
	e.setReachable(bmp, false, "cannot open the address")
	e.Restart(t)
	if st := e.bmpState("m", bmp); !st.Unreachable || *st.LastError != "cannot open the address" {
		t.Fatalf("after restart: %+v", st)
	}
	queued := e.create(one())
	e.wantState(queued, service.StateQueued)
	e.wantWaitingFor(queued, "the BMP of cabinet 0, frame 0")
	e.consistent()
	if err := e.SetBMPReachable(e.ctx, 9999, true, ""); service.KindOf(err) != service.KindNotFound {
		t.Fatalf("unknown BMP: %v", err)
	}
	e.setReachable(bmp, true, "")
	e.wantState(queued, service.StatePower)
	e.finish()
	e.wantState(queued, service.StateReady)
	e.consistent()
}

// A removed machine's BMP that still owes power-offs can be marked too;
// its boards' power-offs are not asked again (nothing can use them).
func TestRetiredBMPReachability(t *testing.T) {
	e, bmps := removedMachineOwingPowerOffs(t)
	old := bmps[len(bmps)-1].ID
	if bmps[len(bmps)-1].Machine != "m0" {
		t.Fatalf("BMPs %+v, want m0's last", bmps)
	}
	e.setReachable(old, false, "")
	_, ops := e.opKinds()
	e.completeDown(ops)
	e.setReachable(old, true, "")
	if bmps, _ := e.BMPs(e.ctx); len(bmps) != 1 {
		t.Fatalf("BMPs %+v, want only m1's", bmps)
	}
	e.consistent()
}

func equalMaps[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
