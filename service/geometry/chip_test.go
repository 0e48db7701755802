package geometry

import (
	"reflect"
	"testing"
)

func TestMod(t *testing.T) {
	cases := [][3]int{{-1, 12, 11}, {12, 12, 0}, {-13, 12, 11}, {5, 3, 2}, {-24, 12, 0}, {7, 0, 7}, {7, -3, 7}}
	for _, c := range cases {
		if got := Mod(c[0], c[1]); got != c[2] {
			t.Errorf("Mod(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

func TestOnBoardHas48Chips(t *testing.T) { // docs/geometry.md, "A board's chips"
	rows := map[int][2]int{0: {0, 4}, 1: {0, 5}, 2: {0, 6}, 3: {0, 7}, 4: {1, 7}, 5: {2, 7}, 6: {3, 7}, 7: {4, 7}}
	n := 0
	for ly := -1; ly <= 8; ly++ {
		for lx := -1; lx <= 8; lx++ {
			r, ok := rows[ly]
			want := ok && lx >= r[0] && lx <= r[1]
			if OnBoard(lx, ly) != want {
				t.Errorf("OnBoard(%d, %d) = %v, want %v", lx, ly, !want, want)
			}
			if want {
				n++
			}
		}
	}
	if n != 48 {
		t.Errorf("%d chips on a board, want 48", n)
	}
}

func TestChipLocal(t *testing.T) { // spot checks of the triad table
	cases := []struct{ x, y, rx, ry, lx, ly int }{
		{0, 0, 0, 0, 0, 0}, {4, 0, 0, 0, 4, 0}, {5, 0, 0, 0, 1, 4}, {7, 0, 0, 0, 3, 4},
		{7, 3, 0, 0, 7, 3}, {7, 7, 0, 0, 7, 7}, {4, 7, 0, 0, 4, 7}, {3, 7, 0, 0, 7, 3},
		{0, 3, 0, 0, 0, 3}, {0, 4, 0, 0, 4, 0}, {8, 4, 0, 0, 0, 0}, {11, 11, 0, 0, 7, 3},
		{11, 0, 0, 0, 7, 4}, {12, 0, 0, 0, 0, 0}, {13, 5, 0, 0, 5, 1}, {20, 9, 0, 0, 4, 1},
		{35, 35, 0, 0, 7, 3}, {4, 8, 4, 8, 0, 0}, {5, 9, 4, 8, 1, 1}, {0, 0, 4, 8, 0, 0},
		{7, 4, 0, 0, 7, 4}, {4, 8, 0, 0, 0, 0}, {47, 23, 0, 0, 7, 3}, {-1, 0, 0, 0, 7, 4},
	}
	for _, c := range cases {
		lx, ly := ChipLocalRoot(c.x, c.y, c.rx, c.ry)
		if lx != c.lx || ly != c.ly {
			t.Errorf("ChipLocalRoot(%d, %d, root %d,%d) = (%d, %d), want (%d, %d)", c.x, c.y, c.rx, c.ry, lx, ly, c.lx, c.ly)
		}
	}
}

// The whole 12×12 triad table (docs/geometry.md, "Triads"), rows y = 0..11.
var coord07 = [12]string{
	"(0,0) (1,0) (2,0) (3,0) (4,0) (1,4) (2,4) (3,4) (4,4) (5,4) (6,4) (7,4)",
	"(0,1) (1,1) (2,1) (3,1) (4,1) (5,1) (2,5) (3,5) (4,5) (5,5) (6,5) (7,5)",
	"(0,2) (1,2) (2,2) (3,2) (4,2) (5,2) (6,2) (3,6) (4,6) (5,6) (6,6) (7,6)",
	"(0,3) (1,3) (2,3) (3,3) (4,3) (5,3) (6,3) (7,3) (4,7) (5,7) (6,7) (7,7)",
	"(4,0) (1,4) (2,4) (3,4) (4,4) (5,4) (6,4) (7,4) (0,0) (1,0) (2,0) (3,0)",
	"(4,1) (5,1) (2,5) (3,5) (4,5) (5,5) (6,5) (7,5) (0,1) (1,1) (2,1) (3,1)",
	"(4,2) (5,2) (6,2) (3,6) (4,6) (5,6) (6,6) (7,6) (0,2) (1,2) (2,2) (3,2)",
	"(4,3) (5,3) (6,3) (7,3) (4,7) (5,7) (6,7) (7,7) (0,3) (1,3) (2,3) (3,3)",
	"(4,4) (5,4) (6,4) (7,4) (0,0) (1,0) (2,0) (3,0) (4,0) (1,4) (2,4) (3,4)",
	"(4,5) (5,5) (6,5) (7,5) (0,1) (1,1) (2,1) (3,1) (4,1) (5,1) (2,5) (3,5)",
	"(4,6) (5,6) (6,6) (7,6) (0,2) (1,2) (2,2) (3,2) (4,2) (5,2) (6,2) (3,6)",
	"(4,7) (5,7) (6,7) (7,7) (0,3) (1,3) (2,3) (3,3) (4,3) (5,3) (6,3) (7,3)",
}

func TestChipLocalWholeTriad(t *testing.T) {
	for y, row := range coord07 {
		got := ""
		for x := 0; x < 12; x++ {
			lx, ly := ChipLocal(x, y)
			if x > 0 {
				got += " "
			}
			got += "(" + itoa(lx) + "," + itoa(ly) + ")"
			// Depends only on (x mod 12, y mod 12).
			if lx2, ly2 := ChipLocal(x+36, y-24); lx2 != lx || ly2 != ly {
				t.Errorf("ChipLocal(%d, %d) differs from ChipLocal(%d, %d)", x+36, y-24, x, y)
			}
		}
		if got != row {
			t.Errorf("row y=%d:\n got %s\nwant %s", y, got, row)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestEthernetChipAndChipToBoard(t *testing.T) { // vectors computed by the original
	type want struct {
		ex, ey int
		b      Board
		err    bool
	}
	cases := []struct {
		x, y, w, h int
		want
	}{
		{0, 0, 12, 12, want{0, 0, Board{0, 0, 0}, false}},
		{4, 0, 12, 12, want{0, 0, Board{0, 0, 0}, false}},
		{5, 0, 12, 12, want{4, 8, Board{0, 0, 2}, false}},
		{11, 0, 12, 12, want{4, 8, Board{0, 0, 2}, false}},
		{0, 4, 12, 12, want{8, 4, Board{0, 0, 1}, false}},
		{0, 11, 12, 12, want{8, 4, Board{0, 0, 1}, false}},
		{11, 11, 12, 12, want{4, 8, Board{0, 0, 2}, false}},
		{8, 4, 12, 12, want{8, 4, Board{0, 0, 1}, false}},
		{7, 7, 12, 12, want{0, 0, Board{0, 0, 0}, false}},
		{8, 8, 12, 12, want{4, 8, Board{0, 0, 2}, false}},
		{4, 8, 12, 12, want{4, 8, Board{0, 0, 2}, false}},
		{3, 7, 12, 12, want{8, 4, Board{0, 0, 1}, false}},
		{0, 4, 24, 24, want{20, 4, Board{1, 0, 1}, false}},
		{0, 11, 24, 24, want{20, 4, Board{1, 0, 1}, false}},
		{11, 23, 24, 24, want{4, 20, Board{0, 1, 2}, false}},
		{23, 23, 24, 24, want{16, 20, Board{1, 1, 2}, false}},
		{23, 0, 24, 24, want{16, 20, Board{1, 1, 2}, false}},
		{12, 12, 24, 24, want{12, 12, Board{1, 1, 0}, false}},
		{16, 16, 24, 24, want{12, 12, Board{1, 1, 0}, false}},
		{20, 21, 24, 24, want{16, 20, Board{1, 1, 2}, false}},
		{0, 4, 48, 24, want{44, 4, Board{3, 0, 1}, false}},
		{47, 23, 48, 24, want{40, 20, Board{3, 1, 2}, false}},
		{40, 20, 48, 24, want{40, 20, Board{3, 1, 2}, false}},
		{5, 0, 24, 12, want{4, 8, Board{0, 0, 2}, false}},
		{35, 11, 36, 12, want{28, 8, Board{2, 0, 2}, false}},
		{7, 7, 8, 8, want{0, 0, Board{0, 0, 0}, false}},
		{7, 0, 8, 8, want{4, 4, Board{}, true}},
		{0, 7, 8, 8, want{4, 4, Board{}, true}},
		{0, 4, 16, 16, want{12, 4, Board{}, true}},
		{15, 15, 16, 16, want{12, 12, Board{1, 1, 0}, false}},
		{12, 8, 16, 16, want{8, 4, Board{0, 0, 1}, false}},
		{9, 5, 16, 16, want{8, 4, Board{0, 0, 1}, false}},
		// a 2×2-triad machine
		{1, 1, 12, 12, want{0, 0, Board{0, 0, 0}, false}},
		{24, 12, 48, 48, want{24, 12, Board{2, 1, 0}, false}},
		{32, 16, 48, 48, want{32, 16, Board{2, 1, 1}, false}},
		{28, 20, 48, 48, want{28, 20, Board{2, 1, 2}, false}},
		// a 4×2-triad machine, 48×24 chips
		{44, 4, 48, 24, want{44, 4, Board{3, 0, 1}, false}},
		{3, 11, 48, 24, want{44, 4, Board{3, 0, 1}, false}},
		{5, 0, 48, 24, want{4, 20, Board{0, 1, 2}, false}},
		{4, 20, 48, 24, want{4, 20, Board{0, 1, 2}, false}},
		{0, 12, 48, 24, want{0, 12, Board{0, 1, 0}, false}},
		{36, 12, 48, 24, want{36, 12, Board{3, 1, 0}, false}},
	}
	for _, c := range cases {
		ex, ey := EthernetChip(c.x, c.y, c.w, c.h)
		if ex != c.ex || ey != c.ey {
			t.Errorf("EthernetChip(%d, %d, %d×%d) = (%d, %d), want (%d, %d)", c.x, c.y, c.w, c.h, ex, ey, c.ex, c.ey)
		}
		b, err := ChipToBoard(c.x, c.y, c.w, c.h)
		if c.err {
			if err == nil {
				t.Errorf("ChipToBoard(%d, %d, %d×%d) = %v, want an error", c.x, c.y, c.w, c.h, b)
			}
			continue
		}
		if err != nil || b != c.b {
			t.Errorf("ChipToBoard(%d, %d, %d×%d) = %v, %v; want %v", c.x, c.y, c.w, c.h, b, err, c.b)
		}
	}
}

func TestAbsentChipsOfASingleBoard(t *testing.T) {
	cases := []struct{ x, y, lx, ly int }{
		{5, 0, 1, 4}, {6, 0, 2, 4}, {7, 0, 3, 4}, {6, 1, 2, 5}, {7, 1, 3, 5}, {7, 2, 3, 6},
		{0, 4, 4, 0}, {0, 5, 4, 1}, {1, 5, 5, 1}, {0, 6, 4, 2}, {1, 6, 5, 2}, {2, 6, 6, 2},
		{0, 7, 4, 3}, {1, 7, 5, 3}, {2, 7, 6, 3}, {3, 7, 7, 3},
	}
	for _, c := range cases {
		if lx, ly := ChipLocal(c.x, c.y); lx != c.lx || ly != c.ly {
			t.Errorf("ChipLocal(%d, %d) = (%d, %d), want (%d, %d)", c.x, c.y, lx, ly, c.lx, c.ly)
		}
		if ex, ey := EthernetChip(c.x, c.y, 8, 8); ex != 4 || ey != 4 {
			t.Errorf("EthernetChip(%d, %d, 8×8) = (%d, %d), want (4, 4)", c.x, c.y, ex, ey)
		}
		if b, err := ChipToBoard(c.x, c.y, 8, 8); err == nil {
			t.Errorf("ChipToBoard(%d, %d, 8×8) = %v, want an error", c.x, c.y, b)
		}
	}
	if _, err := ChipToBoard(0, 0, 0, 12); err == nil {
		t.Error("ChipToBoard accepted a zero-width machine")
	}
}

func TestPotentialEthernetChips(t *testing.T) { // docs/geometry.md, "Ethernet chips of a machine"
	cases := []struct {
		w, h int
		want [][2]int
	}{
		{8, 8, [][2]int{{0, 0}}},
		{2, 2, [][2]int{{0, 0}}},
		{12, 12, [][2]int{{0, 0}, {4, 8}, {8, 4}}},
		{16, 16, [][2]int{{0, 0}, {4, 8}, {8, 4}}},
		{24, 12, [][2]int{{0, 0}, {4, 8}, {8, 4}, {12, 0}, {16, 8}, {20, 4}}},
		{12, 24, [][2]int{{0, 0}, {0, 12}, {4, 8}, {4, 20}, {8, 4}, {8, 16}}},
		{24, 24, [][2]int{{0, 0}, {0, 12}, {4, 8}, {4, 20}, {8, 4}, {8, 16}, {12, 0}, {12, 12}, {16, 8}, {16, 20}, {20, 4}, {20, 16}}},
		{28, 16, [][2]int{{0, 0}, {4, 8}, {8, 4}, {12, 0}, {16, 8}, {20, 4}}},
	}
	for _, c := range cases {
		if got := PotentialEthernetChips(c.w, c.h); !reflect.DeepEqual(got, c.want) {
			t.Errorf("PotentialEthernetChips(%d, %d) = %v, want %v", c.w, c.h, got, c.want)
		}
	}
}

func TestLocateChip(t *testing.T) { // docs/geometry.md, "Where is"
	cases := []struct {
		w, h, x, y int
		chip, bc   [2]int
		b          Board
	}{
		{1, 1, 0, 0, [2]int{0, 0}, [2]int{0, 0}, Board{0, 0, 0}},
		{1, 1, 11, 11, [2]int{11, 11}, [2]int{7, 3}, Board{0, 0, 2}},
		{1, 1, 12, 0, [2]int{0, 0}, [2]int{0, 0}, Board{0, 0, 0}},
		{1, 1, -1, 0, [2]int{11, 0}, [2]int{7, 4}, Board{0, 0, 2}},
		{1, 1, 0, 4, [2]int{0, 4}, [2]int{4, 0}, Board{0, 0, 1}},
		{2, 2, 23, 23, [2]int{23, 23}, [2]int{7, 3}, Board{1, 1, 2}},
		{2, 2, 24, 5, [2]int{0, 5}, [2]int{4, 1}, Board{1, 0, 1}},
		{2, 2, 13, 17, [2]int{13, 17}, [2]int{5, 1}, Board{0, 1, 1}},
		{3, 2, 35, 0, [2]int{35, 0}, [2]int{7, 4}, Board{2, 1, 2}},
		{3, 2, 0, 23, [2]int{0, 23}, [2]int{4, 7}, Board{2, 1, 1}},
		{2, 1, 30, 9, [2]int{6, 9}, [2]int{2, 1}, Board{0, 0, 2}},
		// By logical board: the board's Ethernet chip.
		{1, 1, 8, 4, [2]int{8, 4}, [2]int{0, 0}, Board{0, 0, 1}},
		{2, 2, 16, 20, [2]int{16, 20}, [2]int{0, 0}, Board{1, 1, 2}},
		{3, 2, 32, 16, [2]int{32, 16}, [2]int{0, 0}, Board{2, 1, 1}},
		{2, 2, 16, 8, [2]int{16, 8}, [2]int{0, 0}, Board{1, 0, 2}},
	}
	for _, c := range cases {
		got, err := LocateChip(c.x, c.y, c.w, c.h)
		want := ChipLocation{Chip: c.chip, BoardChip: c.bc, Board: c.b}
		if err != nil || got != want {
			t.Errorf("%dx%d LocateChip(%d, %d) = %+v, %v; want %+v", c.w, c.h, c.x, c.y, got, err, want)
		}
	}
	if _, err := LocateChip(0, 0, 0, 1); err == nil {
		t.Error("LocateChip accepted a zero-width machine")
	}
}

func TestJobChip(t *testing.T) { // docs/geometry.md, "Where is"
	cases := []struct {
		b          Board
		lx, ly     int
		origin     Board
		jw, jh     int
		wantX, wtY int
	}{
		{Board{1, 1, 2}, 7, 7, Board{1, 1, 0}, 16, 16, 11, 15},
		{Board{1, 1, 0}, 3, 0, Board{1, 1, 0}, 16, 16, 3, 0},
		{Board{1, 1, 2}, 7, 7, Board{0, 0, 0}, 24, 24, 23, 3},
		{Board{0, 0, 0}, 3, 0, Board{0, 0, 0}, 24, 24, 3, 0},
		{Board{1, 0, 2}, 7, 7, Board{1, 0, 2}, 8, 8, 7, 7},
		{Board{1, 0, 2}, 3, 0, Board{1, 0, 2}, 8, 8, 3, 0},
	}
	for _, c := range cases {
		x, y := JobChip(c.b, c.lx, c.ly, c.origin, c.jw, c.jh)
		if x != c.wantX || y != c.wtY {
			t.Errorf("JobChip(%v, (%d,%d), origin %v, %dx%d) = (%d, %d), want (%d, %d)",
				c.b, c.lx, c.ly, c.origin, c.jw, c.jh, x, y, c.wantX, c.wtY)
		}
	}
	// Connections of a 2×2-triad torus job: Ethernet chip of each
	// board relative to the origin.
	want := map[[2]int]Board{
		{0, 0}: {0, 0, 0}, {0, 12}: {0, 1, 0}, {4, 8}: {0, 0, 2}, {4, 20}: {0, 1, 2},
		{8, 4}: {0, 0, 1}, {8, 16}: {0, 1, 1}, {12, 0}: {1, 0, 0}, {12, 12}: {1, 1, 0},
		{16, 8}: {1, 0, 2}, {16, 20}: {1, 1, 2}, {20, 4}: {1, 0, 1}, {20, 16}: {1, 1, 1},
	}
	for chip, b := range want {
		if x, y := BoardToChip(b); x != chip[0] || y != chip[1] {
			t.Errorf("connection of %v at (%d, %d), want %v", b, x, y, chip)
		}
	}
}
