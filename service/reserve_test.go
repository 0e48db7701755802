package service_test

// The reserve scheduling policy (issue 16): where it differs from fifo,
// the region a blocked head holds, its guarantee, restarts,
// reconfiguration, several machines.

import (
	"fmt"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// withPolicy puts a [scheduler] table with the policy before a machine
// configuration.
func withPolicy(policy, machines string) string {
	return fmt.Sprintf("[scheduler]\npolicy = %q\n%s", policy, machines)
}

// reservation is machine's reservation (nil: none).
func (e *env) reservation(machine string) *service.Reservation {
	e.t.Helper()
	ms, err := e.ListMachines(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == machine {
			return m.Reservation
		}
	}
	e.t.Fatalf("no machine %q", machine)
	return nil
}

// wantReserved checks machine's reservation: for job, region x,y w×h; job
// 0 = none.
func (e *env) wantReserved(machine string, job int64, x, y, w, h int) {
	e.t.Helper()
	r := e.reservation(machine)
	switch {
	case job == 0 && r != nil:
		e.t.Fatalf("%s reserved %+v, want no reservation", machine, *r)
	case job == 0:
	case r == nil:
		e.t.Fatalf("%s has no reservation, want one for job %d at %d,%d %d×%d", machine, job, x, y, w, h)
	case r.Job != job || r.X != x || r.Y != y || r.Width != w || r.Height != h:
		e.t.Fatalf("%s reserved for job %d at %d,%d %d×%d; want job %d at %d,%d %d×%d",
			machine, r.Job, r.X, r.Y, r.Width, r.Height, job, x, y, w, h)
	}
}

// wantTriads checks that a job holds boards of exactly these triads (x
// coordinates of a one-row machine).
func (e *env) wantTriads(id int64, xs ...int) {
	e.t.Helper()
	got := map[int]bool{}
	for _, b := range e.boards(id) {
		got[b.X] = true
	}
	want := map[int]bool{}
	for _, x := range xs {
		want[x] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Fatalf("job %d holds boards %v, want triads x=%v", id, e.boards(id), xs)
	}
}

// threeTriads is the scenario of most tests here: a 3×1-triad machine m
// with one-triad jobs j1 on triad 0 and j2 on triad 1, and h, a 2×1 job,
// queued behind them. Under reserve, h reserves triads 1-2 (it meets j2
// only, and a non-empty triad fewer than at 0-1).
func threeTriads(t *testing.T, policy string, hmods ...mod) (e *env, j1, j2, h int64) {
	e = newEnv(t, withPolicy(policy, testutil.GridTOML(grid("m", 3, 1))))
	j1, j2 = e.create(rect(1, 1)), e.create(rect(1, 1))
	e.finish()
	e.wantTriads(j1, 0)
	e.wantTriads(j2, 1)
	h = e.create(rect(2, 1), hmods...)
	e.wantState(h, service.StateQueued)
	return e, j1, j2, h
}

// Where reserve differs from fifo: a job that fits beside the blocked
// head's region starts at once instead of queueing behind it, and the
// head still starts as soon as it would have under fifo (when the job in
// its region ends).
func TestReserveLetsJobsStartBesideTheBlockedHead(t *testing.T) {
	for _, tc := range []struct {
		policy          string
		smallStarts     bool
		headReason      string
		smallReason     string
		headTriads      []int
		reservedAtStart bool
	}{
		{policy: "fifo", headReason: "no free 2x1 triads on m", smallReason: "behind 1 job on m", headTriads: []int{0, 1}},
		{policy: "reserve", smallStarts: true, headReason: "head of the queue; boards reserved: 1,0 2×1 on m",
			headTriads: []int{1, 2}, reservedAtStart: true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e, j1, j2, h := threeTriads(t, tc.policy)
			if tc.reservedAtStart {
				e.wantReserved("m", h, 1, 0, 2, 1)
			} else {
				e.wantReserved("m", 0, 0, 0, 0, 0)
			}
			e.destroyAndFree(j1) // triads 0 and 2 free, not side by side
			e.wantState(h, service.StateQueued)
			small := e.create(rect(1, 1))
			e.wantWaitingFor(h, tc.headReason)
			if tc.smallStarts {
				e.wantTriads(small, 0)
			} else {
				e.wantState(small, service.StateQueued)
				e.wantWaitingFor(small, tc.smallReason)
			}
			e.destroyAndFree(j2)
			e.wantOn(h, "m")
			e.wantTriads(h, tc.headTriads...)
			e.wantReserved("m", 0, 0, 0, 0, 0)
			e.consistent()
		})
	}
}

// Behind a reservation, a job that would fit only inside the region waits,
// and says for whom.
func TestReserveKeepsOthersOutOfTheRegion(t *testing.T) {
	e, _, j2, h := threeTriads(t, "reserve")
	single := e.create(one()) // triad 2 is free, but reserved
	e.wantState(single, service.StateQueued)
	e.wantWaitingFor(single, fmt.Sprintf("boards it could use are reserved for job %d on m", h))
	e.destroyAndFree(j2)
	e.wantTriads(h, 1, 2)
	e.wantState(single, service.StateQueued) // no board left
	e.consistent()
}

// The region is stored: a restart finds the region chosen when the head
// became blocked, although choosing now would pick another. On a 4×1
// machine with one-triad jobs a, b, c on triads 0-2, the 2×1 head reserves
// triads 2-3 (it meets c alone); once a has ended, triads 0-1 (meeting b
// alone) tie with them and win on x.
func TestReserveRegionSurvivesRestart(t *testing.T) {
	e := newEnv(t, withPolicy("reserve", testutil.GridTOML(grid("m", 4, 1))))
	a, b, c := e.create(rect(1, 1)), e.create(rect(1, 1)), e.create(rect(1, 1))
	e.finish()
	e.wantTriads(a, 0)
	e.wantTriads(b, 1)
	e.wantTriads(c, 2)
	h := e.create(rect(2, 1))
	e.wantReserved("m", h, 2, 0, 2, 1)
	e.destroyAndFree(a)
	e.wantState(h, service.StateQueued)
	before := e.reservation("m")

	m, err := allocator.NewMachine(4, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	occ := allocator.NewOccupancy(m)
	var holdings []allocator.Holding
	for _, id := range []int64{b, c} {
		occ.Set(m, e.boards(id), allocator.HeldBlock)
		x := e.boards(id)[0].X
		holdings = append(holdings, allocator.Holding{Region: allocator.Region{X: x, W: 1, H: 1}, Boards: 3})
	}
	if fresh, _ := allocator.ChooseRegion(m, occ, holdings, allocator.RectRequest(2, 1)); fresh.X != 0 {
		t.Fatalf("a fresh choice is %v; the test wants one that differs from the stored region", fresh)
	}

	e.Restart(t)
	if after := e.reservation("m"); after == nil || *after != *before {
		t.Fatalf("reservation after the restart %+v, want %+v", after, *before)
	}
	e.consistent()
	e.destroyAndFree(c)
	e.wantTriads(h, 2, 3) // b still runs
	e.consistent()
}

// Reconfiguration while a reservation stands: boards taken out of service
// keep the region while the head still fits in it, and move it when it no
// longer does; a region of boards whose BMP does not answer stays reserved
// and the head gets it once the BMP answers.
func TestReserveWhenBoardsGoOutOfService(t *testing.T) {
	e, j1, j2, h := threeTriads(t, "reserve")
	if err := e.TakeBoardOutOfService(e.ctx, "m", geometry.Board{X: 2, Y: 0, Z: 1}, "test", false); err != nil {
		t.Fatal(err)
	}
	e.wantReserved("m", h, 1, 0, 2, 1) // h still fits there (max_dead_boards unlimited)
	if err := e.TakeBoardOutOfService(e.ctx, "m", geometry.Board{X: 1, Y: 0, Z: 0}, "test", false); err != nil {
		t.Fatal(err)
	}
	// The region's bottom-left board is gone: h can never start there.
	e.wantReserved("m", h, 0, 0, 2, 1)
	e.wantWaitingFor(h, "head of the queue; boards reserved: 0,0 2×1 on m")
	e.destroyAndFree(j2)
	e.wantState(h, service.StateQueued) // j1 still holds triad 0
	e.destroyAndFree(j1)
	e.wantTriads(h, 0, 1)
	e.consistent()
}

func TestReserveWhileTheRegionsBMPDoesNotAnswer(t *testing.T) {
	e, j1, j2, h := threeTriads(t, "reserve", maxDeadBoards(0)) // h needs all six boards
	down := e.bmpOf("m", 2, 0)
	e.setReachable(down, false, "no reply")
	e.wantReserved("m", h, 1, 0, 2, 1)
	e.destroyAndFree(j2)
	e.wantState(h, service.StateQueued) // triad 2 unavailable
	e.wantReserved("m", h, 1, 0, 2, 1)
	small := e.create(rect(1, 1)) // triad 1 is free, but reserved
	e.wantState(small, service.StateQueued)
	e.wantWaitingFor(small, fmt.Sprintf("reserved for job %d", h))
	e.setReachable(down, true, "")
	e.wantTriads(h, 1, 2)
	e.wantState(small, service.StateQueued) // j1 still holds triad 0
	e.destroyAndFree(j1)
	e.wantTriads(small, 0)
	e.consistent()
}

// A reload that re-creates the machine destroys its jobs and drops its
// reservation with it; a reload to fifo forgets every reservation, one
// back to reserve lets the blocked head reserve again.
func TestReserveAcrossReloads(t *testing.T) {
	e, j1, j2, h := threeTriads(t, "reserve")
	e.Apply(t, withPolicy("fifo", testutil.GridTOML(grid("m", 3, 1))))
	e.wantReserved("m", 0, 0, 0, 0, 0)
	e.consistent()
	e.Apply(t, withPolicy("reserve", testutil.GridTOML(grid("m", 3, 1))))
	e.wantReserved("m", h, 1, 0, 2, 1)
	e.consistent()

	bigger := grid("m", 4, 1)
	bigger.BMPPrefix, bigger.BoardPrefix = "10.7", "17" // new addresses: a major change
	e.Apply(t, withPolicy("reserve", testutil.GridTOML(bigger)))
	e.wantDestroyed(j1, service.ReasonMachineRemoved)
	e.wantDestroyed(j2, service.ReasonMachineRemoved)
	e.finish()
	e.wantOn(h, "m")
	e.wantReserved("m", 0, 0, 0, 0, 0)
	e.consistent()
}

// A job queued on several machines may hold a reservation on each; once
// it is allocated on one it leaves them all, and the next job in line
// reserves.
func TestReserveOnSeveralMachines(t *testing.T) {
	e := newEnv(t, withPolicy("reserve", testutil.Grids(grid("m0", 1, 1), grid("m1", 1, 1))))
	a, b := e.create(rect(1, 1)), e.create(rect(1, 1))
	e.wantOn(a, "m0")
	e.wantOn(b, "m1")
	h, next := e.create(rect(1, 1)), e.create(rect(1, 1))
	e.wantReserved("m0", h, 0, 0, 1, 1)
	e.wantReserved("m1", h, 0, 0, 1, 1)
	e.destroyAndFree(b)
	e.wantOn(h, "m1")
	e.wantReserved("m0", next, 0, 0, 1, 1)
	e.wantReserved("m1", next, 0, 0, 1, 1)
	e.destroy(next) // a queued head destroyed leaves its reservations too
	e.wantReserved("m0", 0, 0, 0, 0, 0)
	e.wantReserved("m1", 0, 0, 0, 0, 0)
	e.consistent()
}

// n boards the machine can never offer: the job waits for the most it can
// get, and its waiting reason says so (issue 17.1).
func TestWaitReasonNBoardsTheMachineCanNeverOffer(t *testing.T) {
	g := grid("m", 2, 1)
	g.DeadBoards = []geometry.Board{{X: 1, Y: 0, Z: 1}, {X: 1, Y: 0, Z: 2}}
	for _, policy := range []string{"fifo", "reserve"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, withPolicy(policy, testutil.GridTOML(g)))
			first := e.create(one())
			six := e.create(nb(6))
			e.wantState(six, service.StateQueued)
			e.wantWaitingFor(six, "machine m can never offer 6 working boards in one block; waiting for a block of 4")
			e.destroyAndFree(first)
			e.wantOn(six, "m")
			if n := len(e.boards(six)); n != 4 {
				t.Fatalf("create_job(6) got %d boards, want the 4 the machine can offer", n)
			}
		})
	}
}

// The guarantee, with the service's clock: a 48-board job behind an
// endless stream of one-hour single-board jobs, on a 48-board machine kept
// full by them, starts within an hour under reserve (the starvation probe
// of issue 16; replay's TestStarvationProbe replays the same as a trace).
func TestReserveStarvationProbe(t *testing.T) {
	e := newEnv(t, withPolicy("reserve", testutil.GridTOML(grid("m", 4, 4))))
	const life, every = time.Hour, 75 * time.Second // 48 arrivals per life: the machine stays full
	type single struct {
		id    int64
		until time.Time
	}
	var running []single
	var waiting []int64
	var big int64
	var bigAt time.Time
	for step := 0; step < 48*6; step++ {
		for len(running) > 0 && !running[0].until.After(e.Clock.Now()) {
			e.destroy(running[0].id)
			running = running[1:]
		}
		if step == 48*2 {
			big, bigAt = e.create(nb(48), noKeepalive()), e.Clock.Now()
		}
		waiting = append(waiting, e.create(one(), noKeepalive()))
		e.finish()
		still := waiting[:0]
		for _, id := range waiting {
			if e.state(id) == service.StateQueued {
				still = append(still, id)
			} else {
				running = append(running, single{id, e.Clock.Now().Add(life)})
			}
		}
		waiting = still
		if big != 0 && e.state(big) != service.StateQueued {
			if waited := e.Clock.Now().Sub(bigAt); waited > life {
				t.Fatalf("the 48-board job waited %v, more than %v", waited, life)
			}
			return
		}
		e.Clock.Advance(every)
	}
	t.Fatalf("the 48-board job (%d) never started: %+v", big, e.status(big))
}
