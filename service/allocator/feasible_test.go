package allocator

import (
	"errors"
	"fmt"
	"testing"
)

func torus(r Request) Request { r.RequireTorus = true; return r }

func mdb(r Request, n int) Request { r.MaxDeadBoards = n; return r }

func ratio(r Request, v float64) Request { r.MinRatio = v; return r }

func name(r Request) string {
	return fmt.Sprintf("%v n=%d %dx%d board=%v ratio=%v mdb=%d mdl=%d torus=%v",
		r.Kind, r.N, r.W, r.H, r.Board, r.MinRatio, r.MaxDeadBoards, r.MaxDeadLinks, r.RequireTorus)
}

// checkFeasible asserts Feasible, and that Place on the empty machine agrees.
func checkFeasible(t *testing.T, m *Machine, r Request, want bool) {
	t.Helper()
	if got := Feasible(m, r); got != want {
		t.Errorf("Feasible(%s) = %v, want %v", name(r), got, want)
	}
	occ := NewOccupancy(m)
	a, ok := Place(m, occ, r)
	if ok != want {
		t.Errorf("Place(%s) on the empty machine = %v, want %v", name(r), ok, want)
	}
	if ok {
		checkAllocation(t, m, occ, a)
	}
}

func TestTorusOnlyForWholeMachine(t *testing.T) { // ALLOC-09
	m := mustMachine(t, 3, 4, nil)
	for _, r := range []Request{RectRequest(2, 4), RectRequest(3, 3), RectRequest(2, 3), NBoardsRequest(24), NBoardsRequest(33)} {
		checkFeasible(t, m, torus(r), false)
	}
	for _, r := range []Request{RectRequest(3, 4), NBoardsRequest(34)} {
		checkFeasible(t, m, torus(r), true)
		a, _ := Place(m, NewOccupancy(m), torus(r))
		if len(a.Boards) != 36 || a.ChipWidth != 36 || a.ChipHeight != 48 {
			t.Errorf("%s: %d boards %dx%d chips, want 36 boards 36x48", name(r), len(a.Boards), a.ChipWidth, a.ChipHeight)
		}
	}
}

func TestNBoardsRoundUpToTriads(t *testing.T) { // ALLOC-10
	m := mustMachine(t, 3, 4, nil)
	for n, want := range map[int]int{1: 1, 2: 3, 3: 3, 4: 6, 5: 6, 6: 6} {
		a, ok := Place(m, NewOccupancy(m), NBoardsRequest(n))
		if !ok || len(a.Boards) != want {
			t.Errorf("n=%d: ok=%v %d boards, want %d", n, ok, len(a.Boards), want)
		}
		if (n == 1) != a.Single {
			t.Errorf("n=%d: Single=%v", n, a.Single)
		}
	}
}

func TestFeasibilityOnEmpty3x4(t *testing.T) { // ALLOC-11
	m := mustMachine(t, 3, 4, nil)
	for _, r := range []Request{RectRequest(4, 4), RectRequest(3, 5), RectRequest(4, 5), NBoardsRequest(37)} {
		checkFeasible(t, m, r, false)
	}
	for _, r := range []Request{RectRequest(3, 4), RectRequest(1, 1), NBoardsRequest(36), NBoardsRequest(35), NBoardsRequest(2), NBoardsRequest(1)} {
		checkFeasible(t, m, r, true)
	}
	for _, r := range []Request{RectRequest(0, 0), RectRequest(0, 1), RectRequest(1, 0), RectRequest(-1, 1), NBoardsRequest(0), NBoardsRequest(-1)} {
		if err := ValidateRequest(r); !errors.Is(err, ErrNonPositiveSize) {
			t.Errorf("ValidateRequest(%s) = %v, want %v", name(r), err, ErrNonPositiveSize)
		}
		checkFeasible(t, m, r, false)
	}
}

func TestFeasibilityOfSingleBoards(t *testing.T) { // ALLOC-12
	m := mustMachine(t, 2, 3, nil)
	for _, b := range []B{bd(-1, 0, 0), bd(0, -1, 0), bd(0, 3, 0), bd(2, 0, 0), bd(0, 0, -1), bd(0, 0, 3)} {
		checkFeasible(t, m, SpecificBoardRequest(b), false)
	}
	for _, b := range []B{bd(1, 2, 2), bd(0, 0, 0)} {
		checkFeasible(t, m, SpecificBoardRequest(b), true)
	}
	m = mustMachine(t, 2, 3, []B{bd(0, 0, 1)})
	checkFeasible(t, m, SpecificBoardRequest(bd(0, 0, 1)), false)
	checkFeasible(t, m, SpecificBoardRequest(bd(0, 0, 2)), true)
	var all []B
	for x := 0; x < 2; x++ {
		for y := 0; y < 3; y++ {
			for z := 0; z < 3; z++ {
				all = append(all, bd(x, y, z))
			}
		}
	}
	m = mustMachine(t, 2, 3, all)
	for _, r := range []Request{OneBoardRequest(), NBoardsRequest(1), SpecificBoardRequest(bd(0, 0, 0))} {
		checkFeasible(t, m, r, false)
	}
}

func TestRequireTorusWithSingleBoardFormsIsAnError(t *testing.T) { // ALLOC-13
	for _, r := range []Request{OneBoardRequest(), NBoardsRequest(1), SpecificBoardRequest(bd(0, 0, 0))} {
		if err := ValidateRequest(torus(r)); !errors.Is(err, ErrTorusSingleBoard) {
			t.Errorf("ValidateRequest(%s) = %v, want %v", name(torus(r)), err, ErrTorusSingleBoard)
		}
	}
	r := torus(NBoardsRequest(2))
	if err := ValidateRequest(r); err != nil {
		t.Errorf("ValidateRequest(%s) = %v", name(r), err)
	}
	checkFeasible(t, mustMachine(t, 2, 3, nil), r, false)
}

func TestFeasibility9x10WithOneDeadBoard(t *testing.T) { // ALLOC-14
	m := mustMachine(t, 9, 10, []B{bd(3, 2, 1)})
	for _, r := range []Request{OneBoardRequest(), NBoardsRequest(1), SpecificBoardRequest(bd(0, 0, 0)), NBoardsRequest(270),
		RectRequest(1, 1), torus(RectRequest(9, 10)), mdb(NBoardsRequest(269), 0), mdb(RectRequest(9, 10), 1)} {
		checkFeasible(t, m, r, true)
	}
	for _, r := range []Request{SpecificBoardRequest(bd(3, 2, 1)), ratio(NBoardsRequest(270), 1.0), NBoardsRequest(271),
		torus(RectRequest(1, 1)), mdb(NBoardsRequest(270), 0), mdb(RectRequest(9, 10), 0)} {
		checkFeasible(t, m, r, false)
	}
}

func TestSpareBoardsOffsetDeadOnes(t *testing.T) { // ALLOC-15
	m := mustMachine(t, 4, 2, []B{bd(0, 0, 2)})
	checkFeasible(t, m, mdb(NBoardsRequest(23), 0), true)
	a, _ := Place(m, NewOccupancy(m), mdb(NBoardsRequest(23), 0))
	if len(a.Boards) != 23 || a.ChipWidth != 48 || a.ChipHeight != 24 {
		t.Errorf("%d boards %dx%d chips, want 23 boards 48x24", len(a.Boards), a.ChipWidth, a.ChipHeight)
	}
	checkFeasible(t, m, mdb(NBoardsRequest(24), 0), false)
}

// The original only looked at the four corners; every position counts here.
func TestFeasibleChecksEveryPosition(t *testing.T) {
	var dead []B
	for _, c := range [][2]int{{0, 0}, {2, 0}, {0, 2}, {2, 2}} {
		dead = append(dead, bd(c[0], c[1], 1))
	}
	m := mustMachine(t, 3, 3, dead)
	checkFeasible(t, m, mdb(RectRequest(1, 1), 0), true)
	checkFeasible(t, m, mdb(NBoardsRequest(3), 0), true)
	a, _ := Place(m, NewOccupancy(m), mdb(RectRequest(1, 1), 0))
	if a.X0 == 0 && a.Y0 == 0 || a.X0 == 2 && a.Y0 == 0 || a.X0 == 0 && a.Y0 == 2 || a.X0 == 2 && a.Y0 == 2 {
		t.Errorf("placed on a dead corner: %d,%d", a.X0, a.Y0)
	}
}

// A larger block absorbs a dead board that every smallest block contains.
func TestLargerShapeAbsorbsDeadBoards(t *testing.T) {
	m := mustMachine(t, 3, 1, []B{bd(1, 0, 1)})
	// 6 boards need 2 triads; both 2x1 blocks contain the dead board (5
	// alive), the 3x1 block has 8.
	r := mdb(NBoardsRequest(6), 0)
	checkFeasible(t, m, r, true)
	a, _ := Place(m, NewOccupancy(m), r)
	if a.W != 3 || a.H != 1 || len(a.Boards) != 8 {
		t.Errorf("got %dx%d with %d boards, want 3x1 with 8", a.W, a.H, len(a.Boards))
	}
}

func TestValidateRequest(t *testing.T) {
	cases := []struct {
		r    Request
		want error
	}{
		{OneBoardRequest(), nil},
		{NBoardsRequest(5), nil},
		{RectRequest(2, 3), nil},
		{SpecificBoardRequest(bd(-1, 9, 7)), nil}, // impossible, not invalid
		{ratio(NBoardsRequest(5), -1), ErrNegativeRatio},
		{ratio(NBoardsRequest(5), 3), nil},
		{mdb(NBoardsRequest(5), -2), ErrNegativeDeadBoard},
		{Request{Kind: Rect, W: 1, H: 1, MaxDeadBoards: Unlimited, MaxDeadLinks: -5}, ErrNegativeDeadLink},
		{Request{Kind: Kind(9)}, nil},
	}
	for _, c := range cases {
		err := ValidateRequest(c.r)
		if c.r.Kind == Kind(9) {
			if err == nil {
				t.Error("unknown kind accepted")
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("ValidateRequest(%s) = %v, want %v", name(c.r), err, c.want)
		}
	}
}
