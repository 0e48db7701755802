package allocator

import (
	"math/rand"
	"testing"
)

func TestThreeBoardsFromOneTriadThenQueue(t *testing.T) { // PLACE-01
	m := mustMachine(t, 1, 1, nil)
	occ := NewOccupancy(m)
	var got []Allocation
	for i := 0; i < 3; i++ {
		a, ok := place(t, m, occ, OneBoardRequest())
		if !ok {
			t.Fatalf("job %d not placed", i+1)
		}
		got = append(got, a)
	}
	if _, ok := Place(m, occ, OneBoardRequest()); ok {
		t.Fatal("fourth board placed on a full triad")
	}
	occ.Release(m, got[1])
	a, ok := place(t, m, occ, OneBoardRequest())
	if !ok || a.Boards[0] != got[1].Boards[0] {
		t.Fatalf("after freeing %v got %v (ok=%v)", got[1].Boards, a.Boards, ok)
	}
}

func TestSingleBoardsShareATriad(t *testing.T) { // PLACE-02
	m := mustMachine(t, 2, 1, nil)
	occ := NewOccupancy(m)
	a1, _ := place(t, m, occ, OneBoardRequest())
	a2, ok := place(t, m, occ, OneBoardRequest())
	if !ok || a1.Boards[0].X != a2.Boards[0].X {
		t.Fatalf("two single boards in different triads: %v %v", a1.Boards, a2.Boards)
	}
	blk, ok := place(t, m, occ, RectRequest(1, 1))
	if !ok || blk.X0 == a1.Boards[0].X || len(blk.Boards) != 3 {
		t.Fatalf("1x1 block: ok=%v %+v", ok, blk)
	}
	a3, ok := place(t, m, occ, OneBoardRequest())
	if !ok || a3.Boards[0].X != a1.Boards[0].X {
		t.Fatalf("third single board %v not in the first triad", a3.Boards)
	}
	if _, ok := Place(m, occ, OneBoardRequest()); ok {
		t.Fatal("fourth single board placed on a full machine")
	}
}

func TestEqualBlocksTileTheMachine(t *testing.T) { // PLACE-03
	m := mustMachine(t, 10, 20, nil)
	for _, sz := range [][2]int{{1, 1}, {2, 5}, {5, 2}, {10, 10}, {10, 20}, {5, 1}, {10, 1}, {1, 5}, {1, 20}} {
		occ := NewOccupancy(m)
		var jobs []Allocation
		for i := 0; i < 200/(sz[0]*sz[1]); i++ {
			a, ok := place(t, m, occ, RectRequest(sz[0], sz[1]))
			if !ok {
				t.Fatalf("%dx%d: job %d not placed", sz[0], sz[1], i+1)
			}
			jobs = append(jobs, a)
		}
		for i, u := range occ.Use {
			if u != HeldBlock {
				t.Fatalf("%dx%d: board %v not covered", sz[0], sz[1], m.BoardAt(i))
			}
		}
		if _, ok := Place(m, occ, RectRequest(sz[0], sz[1])); ok {
			t.Fatalf("%dx%d: one more placed", sz[0], sz[1])
		}
		for _, a := range jobs {
			occ.Release(m, a)
		}
		if _, ok := place(t, m, occ, RectRequest(10, 20)); !ok {
			t.Fatalf("%dx%d: whole machine not placed after freeing", sz[0], sz[1])
		}
	}
}

func TestEveryTriadBoardByBoard(t *testing.T) { // PLACE-04
	m := mustMachine(t, 4, 5, nil)
	occ := NewOccupancy(m)
	rng := rand.New(rand.NewSource(4))
	for _, z := range []int{0, 1} {
		for _, k := range rng.Perm(20) {
			b := bd(k%4, k/4, z)
			a, ok := place(t, m, occ, SpecificBoardRequest(b))
			if !ok || a.Boards[0] != b {
				t.Fatalf("board %v: ok=%v %v", b, ok, a.Boards)
			}
		}
	}
	if _, ok := Place(m, occ, RectRequest(1, 1)); ok {
		t.Error("1x1 block placed while every triad is partly used")
	}
	if _, ok := Place(m, occ, SpecificBoardRequest(bd(2, 3, 0))); ok {
		t.Error("a held board placed again")
	}
	// The spare z=2 boards still serve single-board jobs.
	if a, ok := place(t, m, occ, OneBoardRequest()); !ok || a.Boards[0].Z != 2 {
		t.Errorf("single board: ok=%v %v", ok, a.Boards)
	}
}

func TestShapesOfNBoardRequests(t *testing.T) { // PLACE-05
	cases := []struct {
		mw, mh, n int
		ratio     float64
		boards    int
		shapes    [][2]int
	}{
		{4, 4, 4, 0, 6, [][2]int{{2, 1}, {1, 2}}},
		{4, 4, 4, 1.0, 12, [][2]int{{2, 2}}},
		{4, 4, 10, 0.5, 12, [][2]int{{2, 2}}},
		{4, 4, 13, 0.5, 18, [][2]int{{3, 2}, {2, 3}}},
		{20, 20, 21, 0, 21, [][2]int{{7, 1}}},
		{3, 3, 21, 0, 27, [][2]int{{3, 3}}},
	}
	for _, c := range cases {
		m := mustMachine(t, c.mw, c.mh, nil)
		occ := NewOccupancy(m)
		a, ok := place(t, m, occ, ratio(NBoardsRequest(c.n), c.ratio))
		if !ok || len(a.Boards) != c.boards {
			t.Errorf("%d boards ratio %v on %dx%d: ok=%v %d boards, want %d", c.n, c.ratio, c.mw, c.mh, ok, len(a.Boards), c.boards)
			continue
		}
		found := false
		for _, s := range c.shapes {
			found = found || (a.W == s[0] && a.H == s[1])
		}
		if !found {
			t.Errorf("%d boards ratio %v on %dx%d: shape %dx%d, want one of %v", c.n, c.ratio, c.mw, c.mh, a.W, a.H, c.shapes)
		}
	}
}

func TestTriadWithDeadBoard(t *testing.T) { // PLACE-07
	m := mustMachine(t, 1, 1, []B{bd(0, 0, 1)})
	a, ok := place(t, m, NewOccupancy(m), RectRequest(1, 1))
	if !ok || len(a.Boards) != 2 || a.Boards[0] != bd(0, 0, 0) || a.Boards[1] != bd(0, 0, 2) ||
		a.ChipWidth != 12 || a.ChipHeight != 12 {
		t.Errorf("ok=%v %+v", ok, a)
	}
}

func TestBottomLeftDeadAtJobLevel(t *testing.T) { // ALLOC-05 (job level)
	m := mustMachine(t, 1, 1, []B{bd(0, 0, 0)})
	for _, r := range []Request{RectRequest(1, 1), NBoardsRequest(2), NBoardsRequest(3), SpecificBoardRequest(bd(0, 0, 0))} {
		checkFeasible(t, m, r, false)
	}
	for _, r := range []Request{OneBoardRequest(), SpecificBoardRequest(bd(0, 0, 1))} {
		checkFeasible(t, m, r, true)
		a, _ := Place(m, NewOccupancy(m), r)
		if len(a.Boards) != 1 || a.Boards[0] == bd(0, 0, 0) {
			t.Errorf("%s: %v", name(r), a.Boards)
		}
	}
}

func TestUnavailableBoardsCountAsDead(t *testing.T) {
	m := mustMachine(t, 2, 1, nil)
	occ := NewOccupancy(m)
	occ.Set(m, []B{bd(0, 0, 0), bd(1, 0, 1)}, Unavailable)
	if _, ok := Place(m, occ, SpecificBoardRequest(bd(0, 0, 0))); ok {
		t.Error("unavailable board allocated by name")
	}
	if _, ok := Place(m, occ, mdb(RectRequest(1, 1), 0)); ok {
		t.Error("block with an unavailable board accepted with max_dead_boards 0")
	}
	a, ok := place(t, m, occ, RectRequest(1, 1))
	if !ok || a.X0 != 1 || len(a.Boards) != 2 {
		t.Errorf("1x1: ok=%v %+v (triad 0 has an unavailable bottom-left)", ok, a)
	}
	a, ok = place(t, m, occ, OneBoardRequest())
	if !ok || a.Boards[0] == bd(0, 0, 0) {
		t.Errorf("single: ok=%v %v", ok, a.Boards)
	}
}

func TestWaitingBoardsAreNotFree(t *testing.T) {
	m := mustMachine(t, 1, 1, nil)
	occ := NewOccupancy(m)
	occ.Set(m, []B{bd(0, 0, 0)}, Waiting)
	if _, ok := Place(m, occ, RectRequest(1, 1)); ok {
		t.Error("block placed over a board waiting for power-off")
	}
	if _, ok := Place(m, occ, SpecificBoardRequest(bd(0, 0, 0))); ok {
		t.Error("waiting board allocated by name")
	}
	if a, ok := place(t, m, occ, OneBoardRequest()); !ok || a.Boards[0] == bd(0, 0, 0) {
		t.Errorf("single: ok=%v %v", ok, a.Boards)
	}
}

func TestSpecificBoardNotInABlockTriad(t *testing.T) {
	m := mustMachine(t, 2, 1, []B{bd(0, 0, 1)})
	occ := NewOccupancy(m)
	// The block takes triad 0 (lowest end) and gets 2 boards; its spare
	// dead board is not allocatable, and its triad is the block's.
	a, ok := place(t, m, occ, SpecificBoardRequest(bd(1, 0, 2)))
	if !ok || a.Boards[0] != bd(1, 0, 2) {
		t.Fatalf("specific: ok=%v %v", ok, a.Boards)
	}
	blk, ok := place(t, m, occ, RectRequest(1, 1))
	if !ok || blk.X0 != 0 {
		t.Fatalf("block: ok=%v %+v", ok, blk)
	}
	if _, ok := Place(m, occ, SpecificBoardRequest(bd(0, 0, 1))); ok {
		t.Error("dead board in a block triad allocated")
	}
	if a, ok := place(t, m, occ, OneBoardRequest()); !ok || a.Boards[0].X != 1 {
		t.Errorf("single went to %v (ok=%v), want triad 1", a.Boards, ok)
	}
}

// With TwoEnds, on an empty machine blocks go to one end and small jobs to
// the other; without it everything starts at the bottom-left.
func TestTwoEnds(t *testing.T) {
	m := mustMachine(t, 8, 8, nil)
	te := Policy{TwoEnds: true, MaxRect: true}
	big, _ := te.Place(m, NewOccupancy(m), RectRequest(3, 3))
	one, _ := te.Place(m, NewOccupancy(m), OneBoardRequest())
	small, _ := te.Place(m, NewOccupancy(m), RectRequest(1, 1))
	if big.X0 != 0 || big.Y0 != 0 {
		t.Errorf("large block at %d,%d, want 0,0", big.X0, big.Y0)
	}
	if b := one.Boards[0]; b.X != 7 || b.Y != 7 {
		t.Errorf("single board at %v, want triad 7,7", b)
	}
	if small.X0 != 7 || small.Y0 != 7 {
		t.Errorf("1x1 block at %d,%d, want 7,7", small.X0, small.Y0)
	}
	s, _ := Place(m, NewOccupancy(m), OneBoardRequest())
	if b := s.Boards[0]; b.X != 0 || b.Y != 0 {
		t.Errorf("default policy single board at %v, want triad 0,0", b)
	}
}

// SinglesBestFit opens the triad with a dead board before a whole one.
func TestSinglesBestFit(t *testing.T) {
	m := mustMachine(t, 3, 1, []B{bd(1, 0, 1)})
	a, _ := Policy{SinglesBestFit: true}.Place(m, NewOccupancy(m), OneBoardRequest())
	if a.Boards[0].X != 1 {
		t.Errorf("best fit opened %v, want triad 1", a.Boards)
	}
	a, _ = Place(m, NewOccupancy(m), OneBoardRequest())
	if a.Boards[0].X != 0 {
		t.Errorf("default opened %v, want triad 0", a.Boards)
	}
}

// Best fit by contact: a 2x2 hole surrounded by used triads is preferred
// over open space for a 2x2 block.
func TestPlacementPrefersSnugHoles(t *testing.T) {
	m := mustMachine(t, 6, 6, nil)
	occ := NewOccupancy(m)
	// Fill everything, then free a 2x2 hole at (3,3) and the column x=0.
	for i := range occ.Use {
		occ.Use[i] = HeldBlock
	}
	free := func(x, y int) {
		for z := 0; z < 3; z++ {
			occ.Use[m.BoardIndex(bd(x, y, z))] = Free
		}
	}
	for _, c := range [][2]int{{3, 3}, {4, 3}, {3, 4}, {4, 4}} {
		free(c[0], c[1])
	}
	for y := 0; y < 6; y++ {
		free(0, y)
		free(1, y)
	}
	a, ok := place(t, m, occ, RectRequest(2, 2))
	if !ok || a.X0 != 3 || a.Y0 != 3 {
		t.Errorf("2x2 at %d,%d (ok=%v), want the snug hole at 3,3", a.X0, a.Y0, ok)
	}
}

func TestPlaceRejectsInvalidInput(t *testing.T) {
	m := mustMachine(t, 2, 2, nil)
	for _, r := range []Request{RectRequest(0, 1), NBoardsRequest(0), torus(OneBoardRequest()), ratio(NBoardsRequest(4), -1)} {
		if _, ok := Place(m, NewOccupancy(m), r); ok {
			t.Errorf("Place(%s) succeeded", name(r))
		}
	}
	if _, ok := Place(&Machine{}, nil, OneBoardRequest()); ok {
		t.Error("Place on a zero machine succeeded")
	}
	if _, ok := Place(m, nil, OneBoardRequest()); !ok {
		t.Error("nil occupancy is not treated as all free")
	}
}

func TestExtremeValuesDoNotPanic(t *testing.T) {
	m := mustMachine(t, 3, 2, nil)
	const big = int(^uint(0) >> 1)
	reqs := []Request{
		NBoardsRequest(big), NBoardsRequest(big - 1), RectRequest(big, big), RectRequest(1, big),
		SpecificBoardRequest(bd(big, -big, 1)), ratio(NBoardsRequest(5), 1e308), ratio(NBoardsRequest(5), 1e-308),
		mdb(NBoardsRequest(5), big),
	}
	for _, r := range reqs {
		Feasible(m, r)
		Place(m, NewOccupancy(m), r)
		Why(m, NewOccupancy(m), r)
		_ = ValidateRequest(r)
	}
	if _, _, _, err := AreaToRect(big, 2, 2, 0); err != nil {
		t.Errorf("AreaToRect(big): %v", err)
	}
}
