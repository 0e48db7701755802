package geometry

import "testing"

// All 18 board link vectors (docs/geometry.md, "Board links", with the
// derived opposites), as the original computes them.
var wantBoardVectors = []struct {
	z          int
	l          Link
	dx, dy, dz int
}{
	{0, East, 0, -1, 2}, {0, NorthEast, 0, 0, 1}, {0, North, 0, 0, 2},
	{0, West, -1, 0, 1}, {0, SouthWest, -1, -1, 2}, {0, South, -1, -1, 1},
	{1, East, 1, 0, -1}, {1, NorthEast, 1, 0, 1}, {1, North, 1, 1, -1},
	{1, West, 0, 0, 1}, {1, SouthWest, 0, 0, -1}, {1, South, 0, -1, 1},
	{2, East, 0, 0, -1}, {2, NorthEast, 1, 1, -2}, {2, North, 0, 1, -1},
	{2, West, 0, 1, -2}, {2, SouthWest, -1, 0, -1}, {2, South, 0, 0, -2},
}

func TestBoardLinkVectors(t *testing.T) {
	for _, c := range wantBoardVectors {
		dx, dy, dz, ok := BoardLinkVector(c.z, c.l)
		if !ok || dx != c.dx || dy != c.dy || dz != c.dz {
			t.Errorf("z=%d %v: (%d,%d,%d,%v), want (%d,%d,%d)", c.z, c.l, dx, dy, dz, ok, c.dx, c.dy, c.dz)
		}
	}
	if _, _, _, ok := BoardLinkVector(3, East); ok {
		t.Error("z=3 accepted")
	}
	if _, _, _, ok := BoardLinkVector(0, Link(6)); ok {
		t.Error("link 6 accepted")
	}
}

// Each entry's opposite must lead back: the symmetry rule of
// docs/geometry.md, "Board links".
func TestBoardLinkVectorsAreSymmetric(t *testing.T) {
	for _, c := range wantBoardVectors {
		dx, dy, dz, ok := BoardLinkVector(c.z+c.dz, c.l.Opposite())
		if !ok || dx != -c.dx || dy != -c.dy || dz != -c.dz {
			t.Errorf("z=%d %v: reverse step (%d,%d,%d) does not undo (%d,%d,%d)", c.z, c.l, dx, dy, dz, c.dx, c.dy, c.dz)
		}
	}
}

type downLinkCase struct {
	from Board
	l    Link
	to   Board
	wrap Wrap
}

func checkDownLinks(t *testing.T, w, h int, cases []downLinkCase) {
	t.Helper()
	for _, c := range cases {
		to, wrap := BoardDownLink(c.from, c.l, w, h)
		if to != c.to || wrap != c.wrap {
			t.Errorf("%dx%d: %v %v -> %v %v, want %v %v", w, h, c.from, c.l, to, wrap, c.to, c.wrap)
		}
	}
}

func TestBoardDownLink1x1(t *testing.T) {
	b := func(z int) Board { return Board{0, 0, z} }
	checkDownLinks(t, 1, 1, []downLinkCase{
		{b(0), East, b(2), WrapY}, {b(0), NorthEast, b(1), WrapNone}, {b(0), North, b(2), WrapNone},
		{b(0), West, b(1), WrapX}, {b(0), SouthWest, b(2), WrapBoth}, {b(0), South, b(1), WrapBoth},
		{b(1), East, b(0), WrapX}, {b(1), NorthEast, b(2), WrapX}, {b(1), North, b(0), WrapBoth},
		{b(1), West, b(2), WrapNone}, {b(1), SouthWest, b(0), WrapNone}, {b(1), South, b(2), WrapY},
		{b(2), East, b(1), WrapNone}, {b(2), NorthEast, b(0), WrapBoth}, {b(2), North, b(1), WrapY},
		{b(2), West, b(0), WrapY}, {b(2), SouthWest, b(1), WrapX}, {b(2), South, b(0), WrapNone},
	})
}

func TestBoardDownLink2x2(t *testing.T) {
	checkDownLinks(t, 2, 2, []downLinkCase{
		{Board{0, 0, 0}, East, Board{0, 1, 2}, WrapY},
		{Board{0, 0, 0}, NorthEast, Board{0, 0, 1}, WrapNone},
		{Board{0, 0, 0}, North, Board{0, 0, 2}, WrapNone},
		{Board{0, 0, 0}, West, Board{1, 0, 1}, WrapX},
		{Board{0, 0, 0}, SouthWest, Board{1, 1, 2}, WrapBoth},
		{Board{0, 0, 0}, South, Board{1, 1, 1}, WrapBoth},
		{Board{0, 0, 1}, East, Board{1, 0, 0}, WrapNone},
		{Board{0, 0, 1}, NorthEast, Board{1, 0, 2}, WrapNone},
		{Board{0, 0, 1}, North, Board{1, 1, 0}, WrapNone},
		{Board{0, 0, 1}, West, Board{0, 0, 2}, WrapNone},
		{Board{0, 0, 1}, SouthWest, Board{0, 0, 0}, WrapNone},
		{Board{0, 0, 1}, South, Board{0, 1, 2}, WrapY},
		{Board{0, 0, 2}, East, Board{0, 0, 1}, WrapNone},
		{Board{0, 0, 2}, NorthEast, Board{1, 1, 0}, WrapNone},
		{Board{0, 0, 2}, North, Board{0, 1, 1}, WrapNone},
		{Board{0, 0, 2}, West, Board{0, 1, 0}, WrapNone},
		{Board{0, 0, 2}, SouthWest, Board{1, 0, 1}, WrapX},
		{Board{0, 0, 2}, South, Board{0, 0, 0}, WrapNone},
		{Board{1, 1, 0}, East, Board{1, 0, 2}, WrapNone},
		{Board{1, 1, 0}, NorthEast, Board{1, 1, 1}, WrapNone},
		{Board{1, 1, 0}, North, Board{1, 1, 2}, WrapNone},
		{Board{1, 1, 0}, West, Board{0, 1, 1}, WrapNone},
		{Board{1, 1, 0}, SouthWest, Board{0, 0, 2}, WrapNone},
		{Board{1, 1, 0}, South, Board{0, 0, 1}, WrapNone},
		{Board{1, 1, 1}, East, Board{0, 1, 0}, WrapX},
		{Board{1, 1, 1}, NorthEast, Board{0, 1, 2}, WrapX},
		{Board{1, 1, 1}, North, Board{0, 0, 0}, WrapBoth},
		{Board{1, 1, 1}, West, Board{1, 1, 2}, WrapNone},
		{Board{1, 1, 1}, SouthWest, Board{1, 1, 0}, WrapNone},
		{Board{1, 1, 1}, South, Board{1, 0, 2}, WrapNone},
		{Board{1, 1, 2}, East, Board{1, 1, 1}, WrapNone},
		{Board{1, 1, 2}, NorthEast, Board{0, 0, 0}, WrapBoth},
		{Board{1, 1, 2}, North, Board{1, 0, 1}, WrapY},
		{Board{1, 1, 2}, West, Board{1, 0, 0}, WrapY},
		{Board{1, 1, 2}, SouthWest, Board{0, 1, 1}, WrapNone},
		{Board{1, 1, 2}, South, Board{1, 1, 0}, WrapNone},
	})
}

func TestBoardDownLink10x10(t *testing.T) {
	checkDownLinks(t, 10, 10, []downLinkCase{
		{Board{3, 2, 1}, North, Board{4, 3, 0}, WrapNone},
		{Board{9, 8, 1}, NorthEast, Board{0, 8, 2}, WrapX},
		{Board{8, 9, 2}, NorthEast, Board{9, 0, 0}, WrapY},
		{Board{9, 9, 2}, NorthEast, Board{0, 0, 0}, WrapBoth},
	})
	checkDownLinks(t, 1, 1, []downLinkCase{
		{Board{0, 0, 0}, North, Board{0, 0, 2}, WrapNone},
		{Board{0, 0, 0}, South, Board{0, 0, 1}, WrapBoth},
	})
}

// Following any link and then its opposite returns to the start, on several
// tori.
func TestBoardDownLinkRoundTrip(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {2, 2}, {3, 5}, {20, 20}} {
		w, h := size[0], size[1]
		for x := 0; x < w; x++ {
			for y := 0; y < h; y++ {
				for z := 0; z < 3; z++ {
					from := Board{x, y, z}
					for _, l := range AllLinks {
						to, wrap := BoardDownLink(from, l, w, h)
						back, wrapBack := BoardDownLink(to, l.Opposite(), w, h)
						if back != from || wrap != wrapBack {
							t.Fatalf("%dx%d: %v %v -> %v (%v) -> %v (%v)", w, h, from, l, to, wrap, back, wrapBack)
						}
					}
				}
			}
		}
	}
}

func TestBoardDownLinkBadInputDoesNotPanic(t *testing.T) {
	b := Board{1, 1, 5}
	if to, w := BoardDownLink(b, East, 2, 2); to != b || w != WrapNone {
		t.Errorf("bad z: %v %v", to, w)
	}
	if to, w := BoardDownLink(Board{0, 0, 0}, East, 0, 2); to != (Board{0, 0, 0}) || w != WrapNone {
		t.Errorf("zero width: %v %v", to, w)
	}
}

func TestBoardToChip(t *testing.T) {
	cases := []struct {
		b    Board
		x, y int
	}{
		{Board{0, 0, 0}, 0, 0}, {Board{0, 0, 1}, 8, 4}, {Board{0, 0, 2}, 4, 8},
		{Board{1, 0, 0}, 12, 0}, {Board{1, 0, 1}, 20, 4}, {Board{1, 0, 2}, 16, 8},
		{Board{0, 1, 2}, 4, 20}, {Board{2, 1, 0}, 24, 12}, {Board{2, 1, 1}, 32, 16},
		{Board{2, 1, 2}, 28, 20}, {Board{3, 3, 1}, 44, 40}, {Board{5, 7, 1}, 68, 88},
		{Board{19, 19, 2}, 232, 236},
	}
	for _, c := range cases {
		x, y := BoardToChip(c.b)
		if x != c.x || y != c.y {
			t.Errorf("BoardToChip(%v) = (%d, %d), want (%d, %d)", c.b, x, y, c.x, c.y)
		}
		// And back on a 48×48 torus where it fits.
		if x < 48 && y < 48 {
			b, err := ChipToBoard(x, y, 48, 48)
			if err != nil || b != c.b {
				t.Errorf("ChipToBoard(%d, %d, 48, 48) = %v, %v; want %v", x, y, b, err, c.b)
			}
		}
	}
}

func TestTriadsToChips(t *testing.T) {
	cases := []struct {
		w, h   int
		wrap   Wrap
		cw, ch int
	}{
		{1, 1, WrapNone, 16, 16}, {1, 1, WrapX, 12, 16}, {1, 1, WrapY, 16, 12}, {1, 1, WrapBoth, 12, 12},
		{2, 1, WrapNone, 28, 16}, {2, 1, WrapX, 24, 16}, {2, 1, WrapY, 28, 12}, {2, 1, WrapBoth, 24, 12},
		{1, 2, WrapNone, 16, 28}, {1, 2, WrapX, 12, 28}, {1, 2, WrapY, 16, 24}, {1, 2, WrapBoth, 12, 24},
		{3, 2, WrapNone, 40, 28}, {3, 2, WrapX, 36, 28}, {3, 2, WrapY, 40, 24}, {3, 2, WrapBoth, 36, 24},
		{4, 1, WrapX, 48, 16}, {4, 2, WrapBoth, 48, 24}, {3, 4, WrapBoth, 36, 48},
	}
	for _, c := range cases {
		cw, ch := TriadsToChips(c.w, c.h, c.wrap)
		if cw != c.cw || ch != c.ch {
			t.Errorf("TriadsToChips(%d, %d, %v) = %dx%d, want %dx%d", c.w, c.h, c.wrap, cw, ch, c.cw, c.ch)
		}
	}
}

func TestWrapAndBoardHelpers(t *testing.T) {
	if !WrapBoth.HasX() || !WrapBoth.HasY() || WrapX.HasY() || WrapY.HasX() || WrapNone.HasX() {
		t.Error("wrap flag bits wrong")
	}
	for w, s := range map[Wrap]string{WrapNone: "none", WrapX: "x", WrapY: "y", WrapBoth: "both"} {
		if w.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(w), w.String(), s)
		}
	}
	if (Board{1, 2, 0}).String() != "(1, 2, 0)" {
		t.Error("Board.String")
	}
	if !(Board{0, 5, 2}).Less(Board{1, 0, 0}) || !(Board{1, 0, 2}).Less(Board{1, 1, 0}) || (Board{1, 1, 1}).Less(Board{1, 1, 1}) {
		t.Error("Board.Less")
	}
	if !(Board{1, 2, 2}).InMachine(2, 3) || (Board{2, 0, 0}).InMachine(2, 3) || (Board{0, 0, 3}).InMachine(2, 3) || (Board{0, -1, 0}).InMachine(2, 3) {
		t.Error("Board.InMachine")
	}
}
