package allocator

import (
	"testing"

	"pgregory.net/rapid"
)

// scenarioMachine is the 4×2-triad machine of the acceptance scenario
// (issue 17): dead boards (1,0,1) and (3,1,2), dead link (0,0,0) north.
func scenarioMachine(t testing.TB) *Machine {
	return mustMachine(t, 4, 2, []B{bd(1, 0, 1), bd(3, 1, 2)}, dl(0, 0, 0, N))
}

// Issue 17.1: create_job(7) on the fresh scenario machine got a block that
// the dead board (1,0,1) cuts down to 5 boards.
func TestSevenBoardsMeansSeven(t *testing.T) {
	m := scenarioMachine(t)
	for n := 2; n <= 22; n++ {
		r := NBoardsRequest(n)
		a, ok := place(t, m, NewOccupancy(m), r)
		if !ok || len(a.Boards) < n {
			t.Errorf("create_job(%d) on the fresh machine: ok=%v, %d boards (%d,%d %dx%d)", n, ok, len(a.Boards), a.X0, a.Y0, a.W, a.H)
		}
		if most := MostBoards(m, r); most != n {
			t.Errorf("MostBoards(%d) = %d, want %[1]d", n, most)
		}
	}
}

// A request waits for n boards rather than take a smaller block now, and
// falls back to the most the machine can ever give only when it cannot
// give n.
func TestNBoardsWaitsForEnoughBoards(t *testing.T) {
	// 3×1 machine; triad 2 has a dead board. 2×1 blocks: (0,0) gives 6,
	// (1,0) gives 5.
	m := mustMachine(t, 3, 1, []B{bd(2, 0, 1)})
	occ := NewOccupancy(m)
	held, _ := place(t, m, occ, RectRequest(1, 1)) // triad 0
	if held.X0 != 0 {
		t.Fatalf("1x1 at %d, want 0", held.X0)
	}
	if a, ok := Place(m, occ, NBoardsRequest(6)); ok {
		t.Fatalf("create_job(6) took %d boards at %d,%d %dx%d instead of waiting", len(a.Boards), a.X0, a.Y0, a.W, a.H)
	}
	if a, ok := place(t, m, occ, NBoardsRequest(5)); !ok || len(a.Boards) != 5 {
		t.Fatalf("create_job(5): ok=%v, %d boards", ok, len(a.Boards))
	}

	// The whole machine gives 8 boards at most: create_job(9) gets them
	// and says so through MostBoards.
	r := NBoardsRequest(9)
	if most := MostBoards(m, r); most != 8 {
		t.Fatalf("MostBoards(9) = %d, want 8", most)
	}
	a, ok := place(t, m, NewOccupancy(m), r)
	if !ok || len(a.Boards) != 8 {
		t.Fatalf("create_job(9): ok=%v, %d boards, want the 8 of the whole machine", ok, len(a.Boards))
	}
	// While triad 0 is held the most it can get is not free: it waits.
	occ = NewOccupancy(m)
	place(t, m, occ, RectRequest(1, 1))
	if a, ok := Place(m, occ, r); ok {
		t.Fatalf("create_job(9) took %d boards while the 8-board block was busy", len(a.Boards))
	}
}

func TestMostBoards(t *testing.T) {
	// 3×2 triads; (0,0,0) is dead, so no block may start at triad (0,0).
	// The best block is 2×2 at (1,0): 12 boards less the dead (2,1,1).
	m := mustMachine(t, 3, 2, []B{bd(0, 0, 0), bd(2, 1, 1)})
	allDead := mustMachine(t, 1, 1, []B{bd(0, 0, 0), bd(0, 0, 1), bd(0, 0, 2)})
	cases := []struct {
		m    *Machine
		r    Request
		want int
	}{
		{m, OneBoardRequest(), 1},
		{m, NBoardsRequest(1), 1},
		{m, SpecificBoardRequest(bd(0, 0, 0)), 0},
		{m, SpecificBoardRequest(bd(1, 1, 2)), 1},
		{m, NBoardsRequest(2), 2}, // no more than asked for
		{m, NBoardsRequest(11), 11},
		{m, NBoardsRequest(12), 11},
		{m, mdb(NBoardsRequest(12), 0), 0}, // 11 < 12: missing one board
		{m, mdb(NBoardsRequest(12), 1), 11},
		{m, ratio(NBoardsRequest(13), 1), 0}, // 5 triads: no square shape fits
		{m, NBoardsRequest(13), 0},           // 5 triads: only the whole machine, whose bottom-left is dead
		{m, RectRequest(3, 2), 0},
		{m, RectRequest(3, 1), 8}, // at (0,1)
		{m, RectRequest(1, 1), 3},
		{m, mdb(RectRequest(2, 2), 0), 0},
		{m, RectRequest(2, 2), 11},
		{m, torus(NBoardsRequest(18)), 0},
		{allDead, NBoardsRequest(2), 0},
		{allDead, OneBoardRequest(), 0},
		{m, NBoardsRequest(0), 0}, // invalid
	}
	for _, c := range cases {
		if got := MostBoards(c.m, c.r); got != c.want {
			t.Errorf("MostBoards(%s) = %d, want %d", name(c.r), got, c.want)
		}
	}
}

// Issue 17.1 as a property: on random machines (dead boards and links) and
// random fills, every n-board allocation holds at least n boards whenever
// the empty machine can offer n, and otherwise the most it can offer.
func TestNBoardsMeansNBoardsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMachine(t)
		occ := NewOccupancy(m)
		for step := rapid.IntRange(1, 30).Draw(t, "steps"); step > 0; step-- {
			var r Request
			if rapid.Bool().Draw(t, "filler") {
				r = genRequest(t, m)
			} else {
				r = NBoardsRequest(rapid.IntRange(2, 3*m.Width*m.Height).Draw(t, "n"))
				r.MaxDeadBoards = genLimit(t, "mdb")
			}
			a, ok := Place(m, occ, r)
			if !ok {
				continue
			}
			if r.Kind == NBoards && !a.Single {
				if want := min(r.N, bruteMost(m, r)); len(a.Boards) < want {
					t.Fatalf("Place(%s) gave %d boards, the empty machine offers %d", name(r), len(a.Boards), bruteMost(m, r))
				}
			}
			occ.Hold(m, a)
		}
	})
}

// Among positions that score the same, the one giving more boards wins
// (issue 17.1), for every kind of block request.
func TestEqualPositionsPreferMoreBoards(t *testing.T) {
	// Two triads; triad 0 has a dead board. Either 1×1 block touches the
	// other triad and leaves it as the largest empty rectangle.
	m := mustMachine(t, 2, 1, []B{bd(0, 0, 1)})
	for _, r := range []Request{RectRequest(1, 1), NBoardsRequest(2), NBoardsRequest(3)} {
		a, ok := place(t, m, NewOccupancy(m), r)
		if !ok || a.X0 != 1 || len(a.Boards) != 3 {
			t.Errorf("%s: ok=%v at %d with %d boards, want triad 1 with 3", name(r), ok, a.X0, len(a.Boards))
		}
	}
}
