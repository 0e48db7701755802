package allocator

import (
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

func TestAllocIsolatedTriad(t *testing.T) { // ALLOC-01
	m := mustMachine(t, 10, 9, nil)
	a, ok := EvaluateBlock(m, 0, 0, 1, 1, RectRequest(1, 1))
	if !ok {
		t.Fatal("refused")
	}
	wantBoards := []B{bd(0, 0, 0), bd(0, 0, 1), bd(0, 0, 2)}
	if len(a.Boards) != 3 || a.Boards[0] != wantBoards[0] || a.Boards[1] != wantBoards[1] || a.Boards[2] != wantBoards[2] {
		t.Errorf("boards %v, want %v", a.Boards, wantBoards)
	}
	want := peripheryString([]BoardLink{dl(0, 0, 0, E), dl(0, 0, 0, W), dl(0, 0, 0, SW), dl(0, 0, 0, S),
		dl(0, 0, 1, E), dl(0, 0, 1, NE), dl(0, 0, 1, N), dl(0, 0, 1, S),
		dl(0, 0, 2, NE), dl(0, 0, 2, N), dl(0, 0, 2, W), dl(0, 0, 2, SW)})
	if got := peripheryString(a.Periphery); got != want || len(a.Periphery) != 12 {
		t.Errorf("periphery %s, want %s", got, want)
	}
	if a.Torus != geometry.WrapNone || a.ChipWidth != 16 || a.ChipHeight != 16 {
		t.Errorf("torus %v size %dx%d, want none 16x16", a.Torus, a.ChipWidth, a.ChipHeight)
	}
}

func TestAllocBlocks(t *testing.T) { // ALLOC-02, ALLOC-03
	cases := []struct {
		mw, mh, x, y, w, h int
		torusReq           bool
		boards, periphery  int
		torus              geometry.Wrap
		cw, ch             int
	}{
		{3, 4, 0, 0, 3, 4, false, 36, 0, geometry.WrapBoth, 36, 48},
		{3, 4, 0, 0, 3, 4, true, 36, 0, geometry.WrapBoth, 36, 48},
		{10, 9, 0, 0, 10, 1, false, 30, 80, geometry.WrapX, 120, 16},
		{10, 9, 0, 0, 1, 9, false, 27, 72, geometry.WrapY, 16, 108},
		{10, 9, 2, 3, 3, 2, false, 18, 36, geometry.WrapNone, 40, 28},
		{2, 2, 0, 0, 2, 1, false, 6, 16, geometry.WrapX, 24, 16},
		{2, 2, 0, 0, 1, 2, false, 6, 16, geometry.WrapY, 16, 24},
		{2, 2, 0, 0, 2, 2, false, 12, 0, geometry.WrapBoth, 24, 24},
		{4, 2, 0, 0, 4, 1, false, 12, 32, geometry.WrapX, 48, 16}, // README: 4x1 on 4x2 is 48x16
	}
	for _, c := range cases {
		m := mustMachine(t, c.mw, c.mh, nil)
		r := RectRequest(c.w, c.h)
		r.RequireTorus = c.torusReq
		a, ok := EvaluateBlock(m, c.x, c.y, c.w, c.h, r)
		if !ok || len(a.Boards) != c.boards || len(a.Periphery) != c.periphery || a.Torus != c.torus ||
			a.ChipWidth != c.cw || a.ChipHeight != c.ch {
			t.Errorf("%dx%d block (%d,%d,%d,%d): ok=%v boards=%d periphery=%d torus=%v %dx%d chips; want %d %d %v %dx%d",
				c.mw, c.mh, c.x, c.y, c.w, c.h, ok, len(a.Boards), len(a.Periphery), a.Torus, a.ChipWidth, a.ChipHeight,
				c.boards, c.periphery, c.torus, c.cw, c.ch)
		}
	}
}

func TestAllocDeadBoardInside(t *testing.T) { // ALLOC-04
	m := mustMachine(t, 4, 3, []B{bd(1, 1, 1)})
	a, ok := EvaluateBlock(m, 1, 1, 1, 1, RectRequest(1, 1))
	if !ok || len(a.Boards) != 2 || a.Boards[0] != bd(1, 1, 0) || a.Boards[1] != bd(1, 1, 2) {
		t.Fatalf("ok=%v boards %v", ok, a.Boards)
	}
	want := peripheryString([]BoardLink{dl(1, 1, 0, E), dl(1, 1, 0, NE), dl(1, 1, 0, W), dl(1, 1, 0, SW), dl(1, 1, 0, S),
		dl(1, 1, 2, E), dl(1, 1, 2, NE), dl(1, 1, 2, N), dl(1, 1, 2, W), dl(1, 1, 2, SW)})
	if got := peripheryString(a.Periphery); got != want {
		t.Errorf("periphery %s, want %s", got, want)
	}
	if _, ok := EvaluateBlock(m, 1, 1, 1, 1, withLimits(RectRequest(1, 1), 0, Unlimited, false)); ok {
		t.Error("accepted with max_dead_boards 0")
	}
	if _, ok := EvaluateBlock(m, 1, 1, 1, 1, withLimits(RectRequest(1, 1), 1, Unlimited, false)); !ok {
		t.Error("refused with max_dead_boards 1")
	}
}

func TestAllocBottomLeftMustWork(t *testing.T) { // ALLOC-05 (block level)
	m := mustMachine(t, 1, 1, []B{bd(0, 0, 0)})
	for _, mdb := range []int{Unlimited, 0, 3} {
		if a, ok := EvaluateBlock(m, 0, 0, 1, 1, withLimits(RectRequest(1, 1), mdb, Unlimited, false)); ok {
			t.Errorf("max_dead_boards %d: accepted %v", mdb, a.Boards)
		}
	}
}

func TestAllocDeadLinksDecideReachability(t *testing.T) { // ALLOC-06
	m := mustMachine(t, 10, 9, []B{bd(0, 0, 1)}, dl(0, 0, 0, N), dl(1, 2, 0, N))
	for _, blk := range [][4]int{{0, 0, 1, 1}, {0, 0, 3, 4}} {
		a, ok := EvaluateBlock(m, blk[0], blk[1], blk[2], blk[3], RectRequest(blk[2], blk[3]))
		if !ok || len(a.Boards) != 1 || a.Boards[0] != bd(0, 0, 0) {
			t.Fatalf("block %v: ok=%v boards %v, want just (0,0,0)", blk, ok, a.Boards)
		}
		want := peripheryString([]BoardLink{dl(0, 0, 0, E), dl(0, 0, 0, NE), dl(0, 0, 0, N), dl(0, 0, 0, W), dl(0, 0, 0, SW), dl(0, 0, 0, S)})
		if got := peripheryString(a.Periphery); got != want {
			t.Errorf("block %v periphery %s, want %s", blk, got, want)
		}
		if a.ChipWidth != 8 || a.ChipHeight != 8 {
			t.Errorf("one-board block is %dx%d chips, want 8x8", a.ChipWidth, a.ChipHeight)
		}
	}
	a, ok := EvaluateBlock(m, 1, 2, 5, 4, RectRequest(5, 4))
	if !ok || len(a.Boards) != 60 {
		t.Errorf("block (1,2,5,4): ok=%v %d boards, want 60", ok, len(a.Boards))
	}
}

func TestAllocWhichDeadLinksCount(t *testing.T) { // ALLOC-07
	cases := []struct {
		link       BoardLink
		x, y       int
		accepted   bool
		boards     int
		peripheral int
	}{
		{dl(2, 2, 0, N), 2, 2, false, 3, 12},
		{dl(2, 2, 0, W), 2, 2, true, 3, 12},
		{dl(0, 0, 0, N), 0, 0, false, 3, 12},
		{dl(0, 0, 0, W), 0, 0, true, 3, 12},
	}
	for _, c := range cases {
		m := mustMachine(t, 10, 9, nil, c.link)
		_, ok := EvaluateBlock(m, c.x, c.y, 1, 1, withLimits(RectRequest(1, 1), Unlimited, 0, false))
		if ok != c.accepted {
			t.Errorf("dead %v, block (%d,%d): accepted=%v, want %v", c.link, c.x, c.y, ok, c.accepted)
		}
		// All three boards stay reachable either way.
		a, ok := EvaluateBlock(m, c.x, c.y, 1, 1, RectRequest(1, 1))
		if !ok || len(a.Boards) != c.boards || len(a.Periphery) != c.peripheral {
			t.Errorf("dead %v: %d boards %d periphery, want %d %d", c.link, len(a.Boards), len(a.Periphery), c.boards, c.peripheral)
		}
	}
}

func TestAllocWrapLinksCountOnlyForTorus(t *testing.T) { // ALLOC-08
	cases := []struct {
		link              BoardLink
		torusReq, accepts bool
	}{
		{dl(0, 0, 0, W), false, true},
		{dl(0, 0, 0, W), true, false},
		{dl(0, 0, 0, N), false, false},
		{dl(0, 0, 0, N), true, false},
	}
	for _, c := range cases {
		m := mustMachine(t, 10, 9, nil, c.link)
		a, ok := EvaluateBlock(m, 0, 0, 10, 9, withLimits(RectRequest(10, 9), Unlimited, 0, c.torusReq))
		if ok != c.accepts {
			t.Errorf("dead %v require_torus=%v: accepted=%v, want %v", c.link, c.torusReq, ok, c.accepts)
		}
		if ok && a.Torus != geometry.WrapBoth {
			t.Errorf("torus %v, want both", a.Torus)
		}
	}
}

func TestEvaluateBlockOutsideMachine(t *testing.T) {
	m := mustMachine(t, 3, 3, nil)
	for _, b := range [][4]int{{-1, 0, 1, 1}, {0, -1, 1, 1}, {2, 0, 2, 1}, {0, 2, 1, 2}, {0, 0, 0, 1}, {0, 0, 4, 4}} {
		if _, ok := EvaluateBlock(m, b[0], b[1], b[2], b[3], RectRequest(1, 1)); ok {
			t.Errorf("block %v accepted", b)
		}
	}
	if _, ok := EvaluateBlock(&Machine{}, 0, 0, 1, 1, RectRequest(1, 1)); ok {
		t.Error("zero machine accepted a block")
	}
}

func TestSingleBoardAllocation(t *testing.T) { // PLACE-06 single board
	m := mustMachine(t, 2, 1, nil)
	a := SingleBoardAllocation(m, bd(1, 0, 2))
	if !a.Single || len(a.Boards) != 1 || a.Boards[0] != bd(1, 0, 2) || len(a.Periphery) != 6 ||
		a.Torus != geometry.WrapNone || a.ChipWidth != 8 || a.ChipHeight != 8 {
		t.Errorf("%+v", a)
	}
}

func TestNewMachineRejectsOutsideBoards(t *testing.T) {
	if _, err := NewMachine(0, 1, nil, nil); err == nil {
		t.Error("zero width accepted")
	}
	if _, err := NewMachine(2, 2, []B{bd(2, 0, 0)}, nil); err == nil {
		t.Error("dead board outside accepted")
	}
	if _, err := NewMachine(2, 2, nil, []BoardLink{dl(0, 0, 3, N)}); err == nil {
		t.Error("dead link from outside accepted")
	}
	if _, err := NewMachine(2, 2, nil, []BoardLink{{bd(0, 0, 0), geometry.Link(7)}}); err == nil {
		t.Error("invalid link accepted")
	}
}
