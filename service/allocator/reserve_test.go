package allocator

import (
	"testing"

	"pgregory.net/rapid"
)

func rg(x, y, w, h int) Region { return Region{X: x, Y: y, W: w, H: h} }

func TestChooseRegion(t *testing.T) {
	type job struct {
		at     Region
		boards int
	}
	cases := []struct {
		label   string
		m       *Machine
		jobs    []job
		waiting []B // boards waiting for power-off (no job)
		r       Request
		want    Region
		ok      bool
	}{
		{label: "empty machine: lowest y, then x", m: mustMachine(t, 4, 4, nil),
			r: RectRequest(2, 2), want: rg(0, 0, 2, 2), ok: true},
		{label: "fewest jobs", m: mustMachine(t, 4, 1, nil),
			jobs: []job{{rg(0, 0, 1, 1), 1}, {rg(0, 0, 1, 1), 1}, {rg(2, 0, 1, 1), 3}},
			r:    RectRequest(2, 1), want: rg(1, 0, 2, 1), ok: true},
		{label: "equal jobs: fewest non-empty triads", m: mustMachine(t, 4, 1, nil),
			jobs: []job{{rg(0, 0, 2, 1), 6}, {rg(2, 0, 1, 1), 1}}, waiting: []B{bd(3, 0, 0)},
			r: RectRequest(2, 1), want: rg(0, 0, 2, 1), ok: true},
		{label: "equal jobs and triads: fewest requested boards", m: mustMachine(t, 4, 1, nil),
			jobs: []job{{rg(0, 0, 1, 1), 3}, {rg(2, 0, 1, 1), 2}, {rg(3, 0, 1, 1), 2}},
			r:    RectRequest(2, 1), want: rg(1, 0, 2, 1), ok: true}, // origin 0 meets 3 boards' job, 2 meets 2 jobs
		{label: "a job spanning the region counts once", m: mustMachine(t, 3, 2, nil),
			jobs: []job{{rg(0, 0, 2, 2), 12}, {rg(2, 0, 1, 1), 1}, {rg(2, 1, 1, 1), 1}},
			r:    RectRequest(2, 2), want: rg(0, 0, 2, 2), ok: true},
		// n = 6 on 4×1 with a dead board in triad 1: every 2-triad block
		// with triad 1 gives 5, so the only legal 2×1 is at 2, which meets
		// the job on triad 3; the 3×1 at 0 meets none.
		{label: "a larger shape meeting fewer jobs; n boards means n", m: mustMachine(t, 4, 1, []B{bd(1, 0, 1)}),
			jobs: []job{{rg(3, 0, 1, 1), 1}},
			r:    NBoardsRequest(6), want: rg(0, 0, 3, 1), ok: true},
		{label: "only legal origins (dead bottom-left)", m: mustMachine(t, 3, 1, []B{bd(0, 0, 0)}),
			jobs: []job{{rg(2, 0, 1, 1), 1}},
			r:    RectRequest(1, 1), want: rg(1, 0, 1, 1), ok: true},
		{label: "torus: the whole machine", m: mustMachine(t, 3, 2, nil),
			jobs: []job{{rg(1, 1, 1, 1), 3}},
			r:    torus(NBoardsRequest(18)), want: rg(0, 0, 3, 2), ok: true},
		{label: "whole-machine block", m: mustMachine(t, 3, 2, nil),
			jobs: []job{{rg(0, 0, 1, 1), 3}},
			r:    RectRequest(3, 2), want: rg(0, 0, 3, 2), ok: true},
		{label: "specific board: its triad", m: mustMachine(t, 3, 2, nil),
			jobs: []job{{rg(1, 1, 1, 1), 3}},
			r:    SpecificBoardRequest(bd(1, 1, 2)), want: rg(1, 1, 1, 1), ok: true},
		{label: "single board: a triad with a working board", m: mustMachine(t, 2, 1, []B{bd(1, 0, 0), bd(1, 0, 1), bd(1, 0, 2)}),
			jobs: []job{{rg(0, 0, 1, 1), 3}},
			r:    OneBoardRequest(), want: rg(0, 0, 1, 1), ok: true},
		{label: "single board: the triad with the fewest jobs", m: mustMachine(t, 2, 1, nil),
			jobs: []job{{rg(0, 0, 1, 1), 1}, {rg(0, 0, 1, 1), 1}, {rg(1, 0, 1, 1), 1}},
			r:    NBoardsRequest(1), want: rg(1, 0, 1, 1), ok: true},
		{label: "never placeable", m: mustMachine(t, 2, 1, nil), r: RectRequest(3, 1)},
		{label: "dead specific board", m: mustMachine(t, 2, 1, []B{bd(1, 0, 2)}), r: SpecificBoardRequest(bd(1, 0, 2))},
		{label: "invalid", m: mustMachine(t, 2, 1, nil), r: NBoardsRequest(0)},
	}
	for _, c := range cases {
		occ := NewOccupancy(c.m)
		var jobs []Holding
		for _, j := range c.jobs {
			// The triads a job holds are not empty; which boards exactly
			// does not matter to the choice.
			occ.Set(c.m, []B{bd(j.at.X, j.at.Y, 2)}, HeldBlock)
			jobs = append(jobs, Holding{Region: j.at, Boards: j.boards})
		}
		occ.Set(c.m, c.waiting, Waiting)
		got, ok := ChooseRegion(c.m, occ, jobs, c.r)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: ChooseRegion(%s) = %v, %v; want %v, %v", c.label, name(c.r), got, ok, c.want, c.ok)
		}
	}
}

// The region's key is computed with difference arrays; a direct count over
// every legal placement must agree, on random machines and fills.
func TestChooseRegionAgreesWithBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMachine(t)
		occ := NewOccupancy(m)
		var jobs []Holding
		for i := rapid.IntRange(0, 12).Draw(t, "jobs"); i > 0; i-- {
			r := genRequest(t, m)
			if a, ok := Place(m, occ, r); ok {
				occ.Hold(m, a)
				jobs = append(jobs, Holding{Region: a.Footprint(), Boards: RequestedBoards(r)})
			}
		}
		r := genRequest(t, m)
		got, ok := ChooseRegion(m, occ, jobs, r)
		want, wantOK := bruteRegion(m, occ, jobs, r)
		if ok != wantOK || got != want {
			t.Fatalf("ChooseRegion(%s) = %v, %v; brute force %v, %v", name(r), got, ok, want, wantOK)
		}
		if !ok {
			return
		}
		// Once every job it meets has ended, r fits there.
		free := occ.Clone()
		for _, j := range jobs {
			if overlaps(j.Region, got) {
				free.Set(m, triadBoards(m, j.Region), Free)
			}
		}
		for _, b := range triadBoards(m, got) {
			if free.At(m.BoardIndex(b)) != Free {
				free.Set(m, []B{b}, Free) // waiting boards return too
			}
		}
		if _, fits := PlaceAvoiding(m, free, r, Region{}); !fits {
			t.Fatalf("%s does not fit once region %v is free", name(r), got)
		}
	})
}

func overlaps(a, b Region) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func triadBoards(m *Machine, g Region) []B {
	var out []B
	for y := g.Y; y < g.Y+g.H; y++ {
		for x := g.X; x < g.X+g.W; x++ {
			out = append(out, bd(x, y, 0), bd(x, y, 1), bd(x, y, 2))
		}
	}
	return out
}

// bruteRegion states the region rule directly: every legal placement on
// the empty machine, keyed by (jobs met, non-empty triads, their requested
// boards, area, y, x), shapes of one area in Place's order.
func bruteRegion(m *Machine, occ *Occupancy, jobs []Holding, r Request) (Region, bool) {
	if ValidateRequest(r) != nil {
		return Region{}, false
	}
	if r.Kind == SpecificBoard {
		if !r.Board.InMachine(m.Width, m.Height) || m.IsDead(m.BoardIndex(r.Board)) {
			return Region{}, false
		}
		return rg(r.Board.X, r.Board.Y, 1, 1), true
	}
	empty := NewOccupancy(m)
	var cands []Region
	if r.single() {
		for y := 0; y < m.Height; y++ {
			for x := 0; x < m.Width; x++ {
				for z := 0; z < 3; z++ {
					if !m.IsDead(m.BoardIndex(bd(x, y, z))) {
						cands = append(cands, rg(x, y, 1, 1))
						break
					}
				}
			}
		}
	} else {
		need := bruteNeed(m, r)
		for group := range shapeGroups(m, r) { // Place's shape order within an area
			for _, s := range group {
				for y := 0; y+s.h <= m.Height; y++ {
					for x := 0; x+s.w <= m.Width; x++ {
						if n, ok := bruteLegal(m, empty, x, y, s.w, s.h, r); ok && n >= need {
							cands = append(cands, rg(x, y, s.w, s.h))
						}
					}
				}
			}
		}
	}
	key := func(g Region) [6]int {
		var k [6]int
		for _, j := range jobs {
			if overlaps(j.Region, g) {
				k[0]++
				k[2] += j.Boards
			}
		}
		for _, b := range triadBoards(m, g) {
			if b.Z == 0 && !bruteOpen(m, occ, b.X, b.Y, 1, 1) {
				k[1]++
			}
		}
		k[3], k[4], k[5] = g.W*g.H, g.Y, g.X
		return k
	}
	if len(cands) == 0 {
		return Region{}, false
	}
	best, bestKey := cands[0], key(cands[0])
	for _, g := range cands[1:] {
		if k := key(g); less6(k, bestKey) {
			best, bestKey = g, k
		}
	}
	return best, true
}

func less6(a, b [6]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func TestRequestedBoards(t *testing.T) {
	for _, c := range []struct {
		r    Request
		want int
	}{
		{OneBoardRequest(), 1}, {NBoardsRequest(1), 1}, {SpecificBoardRequest(bd(1, 2, 0)), 1},
		{NBoardsRequest(7), 7}, {RectRequest(2, 3), 18}, {torus(NBoardsRequest(36)), 36},
	} {
		if got := RequestedBoards(c.r); got != c.want {
			t.Errorf("RequestedBoards(%s) = %d, want %d", name(c.r), got, c.want)
		}
	}
}

// Forbidden triads (another job's reservation) are honoured by every kind
// of request.
func TestPlaceAvoidingHonoursForbiddenTriads(t *testing.T) {
	m := mustMachine(t, 3, 2, nil)
	// A single-board job in triad (2,1), inside the reservation: best fit
	// would put the next single board next to it.
	withSingle := func() *Occupancy {
		occ := NewOccupancy(m)
		occ.Set(m, []B{bd(2, 1, 0)}, HeldSingle)
		return occ
	}
	forbid := rg(1, 1, 2, 1)
	cases := []struct {
		label  string
		occ    *Occupancy
		r      Request
		forbid Region
		ok     bool
		check  func(a Allocation) bool
	}{
		{"one board: not into a partly used forbidden triad", withSingle(), OneBoardRequest(), forbid, true,
			func(a Allocation) bool { return !overlaps(a.Footprint(), forbid) }},
		{"one board without the reservation: next to the other", withSingle(), OneBoardRequest(), Region{}, true,
			func(a Allocation) bool { return a.Boards[0].X == 2 && a.Boards[0].Y == 1 }},
		{"n=1: as one board", withSingle(), NBoardsRequest(1), forbid, true,
			func(a Allocation) bool { return !overlaps(a.Footprint(), forbid) }},
		{"specific board inside: waits", NewOccupancy(m), SpecificBoardRequest(bd(1, 1, 0)), forbid, false, nil},
		{"specific board outside", NewOccupancy(m), SpecificBoardRequest(bd(0, 1, 0)), forbid, true,
			func(a Allocation) bool { return a.Boards[0] == bd(0, 1, 0) }},
		{"block: never overlaps", NewOccupancy(m), RectRequest(2, 2), forbid, false, nil},
		{"block: beside it", NewOccupancy(m), RectRequest(3, 1), forbid, true,
			func(a Allocation) bool { return a.Footprint() == rg(0, 0, 3, 1) }},
		{"n boards: around it", NewOccupancy(m), NBoardsRequest(7), forbid, true,
			func(a Allocation) bool { return a.Footprint() == rg(0, 0, 3, 1) }},
		{"n boards: no rectangle left for them", NewOccupancy(m), NBoardsRequest(10), forbid, false, nil},
		{"torus: the whole machine is not free", NewOccupancy(m), torus(RectRequest(3, 2)), rg(2, 0, 1, 1), false, nil},
		{"a region outside the machine forbids nothing", NewOccupancy(m), RectRequest(3, 2), rg(5, 5, 2, 2), true, nil},
		{"a region partly outside is clipped", NewOccupancy(m), RectRequest(1, 1), rg(-1, -1, 2, 9), true,
			func(a Allocation) bool { return a.X0 > 0 }},
	}
	for _, c := range cases {
		a, ok := PlaceAvoiding(m, c.occ, c.r, c.forbid)
		if ok {
			checkAllocation(t, m, c.occ, a)
		}
		if ok != c.ok || (ok && c.check != nil && !c.check(a)) {
			t.Errorf("%s: PlaceAvoiding(%s, %v) = %v at %v with %d boards", c.label, name(c.r), c.forbid, ok, a.Footprint(), len(a.Boards))
		}
	}
}

// Contact scoring counts forbidden triads as used: a 1×1 block goes into
// the corner the reservation makes snug.
func TestForbiddenTriadsCountAsUsedForContact(t *testing.T) {
	m := mustMachine(t, 3, 2, nil)
	if a, _ := Place(m, NewOccupancy(m), RectRequest(1, 1)); a.Footprint() != rg(0, 0, 1, 1) {
		t.Fatalf("without a reservation: %v, want 0,0", a.Footprint())
	}
	a, ok := PlaceAvoiding(m, NewOccupancy(m), RectRequest(1, 1), rg(2, 1, 1, 1))
	if !ok || a.Footprint() != rg(2, 0, 1, 1) {
		t.Errorf("with (2,1) reserved: %v (ok=%v), want 2,0 (touching the reservation and two borders)", a.Footprint(), ok)
	}
}

// PlaceAvoiding behaves exactly as Place on an occupancy where the
// forbidden triads are held by a block job (an independent statement of
// the rule), on random machines, fills and regions.
func TestPlaceAvoidingIsPlaceWithTheRegionHeld(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, occ := genFilled(t, 10)
		forbid := genRegion(t, m)
		held := occ.Clone()
		clipped := forbid.clip(m.Width, m.Height)
		held.Set(m, triadBoards(m, clipped), HeldBlock)
		for i := 0; i < 5; i++ {
			r := genRequest(t, m)
			got, ok := PlaceAvoiding(m, occ, r, forbid)
			want, wantOK := Place(m, held, r)
			if ok != wantOK || got.Footprint() != want.Footprint() || len(got.Boards) != len(want.Boards) {
				t.Fatalf("PlaceAvoiding(%s, %v) = %v %v (%d boards); Place with the region held = %v %v (%d boards)",
					name(r), forbid, ok, got.Footprint(), len(got.Boards), wantOK, want.Footprint(), len(want.Boards))
			}
			if ok && overlaps(got.Footprint(), clipped) {
				t.Fatalf("PlaceAvoiding(%s) = %v overlaps the forbidden %v", name(r), got.Footprint(), clipped)
			}
		}
	})
}

// The guarantee of the reservation rule: while other jobs are placed only
// with PlaceAvoiding, nothing enters the head's region, so once the jobs
// that met it at reservation time have ended (and power-offs are done), the
// head fits — whatever else was placed, started or ended meanwhile.
func TestReservationGuarantee(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMachine(t)
		occ := NewOccupancy(m)
		type job struct {
			a    Allocation
			hold Holding
		}
		var live []job
		placeJob := func(r Request, forbid Region) {
			if a, ok := PlaceAvoiding(m, occ, r, forbid); ok {
				occ.Hold(m, a)
				live = append(live, job{a, Holding{Region: a.Footprint(), Boards: RequestedBoards(r)}})
			}
		}
		for i := rapid.IntRange(1, 15).Draw(t, "fill"); i > 0; i-- {
			placeJob(genRequest(t, m), Region{})
		}
		head := genRequest(t, m)
		if _, fits := Place(m, occ, head); fits || !Feasible(m, head) {
			t.Skip("the head is not blocked")
		}
		var holdings []Holding
		for _, j := range live {
			holdings = append(holdings, j.hold)
		}
		region, ok := ChooseRegion(m, occ, holdings, head)
		if !ok {
			t.Fatalf("no region for the feasible %s", name(head))
		}
		var met []job // jobs in the region at reservation time
		for _, j := range live {
			if overlaps(j.hold.Region, region) {
				met = append(met, j)
			}
		}
		for step := rapid.IntRange(0, 30).Draw(t, "steps"); step > 0; step-- {
			if len(live) > 0 && rapid.Bool().Draw(t, "end") {
				k := rapid.IntRange(0, len(live)-1).Draw(t, "which")
				occ.Set(m, live[k].a.Boards, Waiting) // power-off pending
				live = append(live[:k], live[k+1:]...)
				continue
			}
			placeJob(genRequest(t, m), region)
		}
		for _, j := range met {
			occ.Release(m, j.a)
		}
		for i, u := range occ.Use {
			if u == Waiting {
				occ.Use[i] = Free
			}
		}
		if _, fits := Place(m, occ, head); !fits {
			t.Fatalf("%s does not fit once the jobs in its region %v have ended", name(head), region)
		}
	})
}
