package geometry

import (
	"fmt"
	"sort"
)

// Mod is the floor modulo of docs/geometry.md (Python's %): the result
// is in [0, m) for m > 0, so Mod(-1, 12) = 11. For m <= 0 (meaningless here)
// it returns a unchanged instead of panicking.
func Mod(a, m int) int {
	if m <= 0 {
		return a
	}
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// OnBoard reports whether board-local position (lx, ly) holds a chip of a
// SpiNN-5 board: 0 <= lx, ly <= 7 and -3 <= lx - ly <= 4 (48 chips;
// docs/geometry.md, "A board's chips").
func OnBoard(lx, ly int) bool {
	d := lx - ly
	return lx >= 0 && lx <= 7 && ly >= 0 && ly <= 7 && d >= -3 && d <= 4
}

// localTable[ty][tx] is the board-local coordinate of chip (tx, ty) of a
// 12 × 12 triad block with root (0, 0) (docs/geometry.md, "Triads").
var localTable = buildLocalTable()

func buildLocalTable() (t [12][12][2]int) {
	for ty := 0; ty < 12; ty++ {
		for tx := 0; tx < 12; tx++ {
			// Exactly one of the three boards' squares covers the position
			// (docs/geometry.md, "Chip to board"); the first match is the owner.
			for _, off := range zOffsets {
				lx, ly := Mod(tx-off[0], 12), Mod(ty-off[1], 12)
				if OnBoard(lx, ly) {
					t[ty][tx] = [2]int{lx, ly}
					break
				}
			}
		}
	}
	return t
}

// ChipLocal returns the position of chip (x, y) inside its own board,
// relative to that board's Ethernet chip, for the server's root (0, 0)
// (docs/geometry.md, "Chip to board"). It never fails and does not depend on the machine size.
func ChipLocal(x, y int) (lx, ly int) {
	v := localTable[Mod(y, 12)][Mod(x, 12)]
	return v[0], v[1]
}

// ChipLocalRoot is ChipLocal for a system whose triad grid is rooted at chip
// (rx, ry) instead of (0, 0).
func ChipLocalRoot(x, y, rx, ry int) (lx, ly int) { return ChipLocal(x-rx, y-ry) }

// EthernetChip returns the Ethernet chip of the board holding chip (x, y) on
// a machine of w × h chips: ((x - lx) mod w, (y - ly) mod h) (docs/geometry.md,
// "Chip to board"). For sizes that are not multiples of 12 the answer is only
// meaningful for chips that exist. Non-positive sizes disable the wrap.
func EthernetChip(x, y, w, h int) (ex, ey int) {
	lx, ly := ChipLocal(x, y)
	return Mod(x-lx, w), Mod(y-ly, h)
}

// ChipToBoard returns the board holding chip (x, y) on a machine of w × h
// chips (docs/geometry.md, "Chip to board"). It fails for non-positive sizes and for chips
// whose Ethernet chip is not at a board position (absent chips of machines
// whose size is not a multiple of 12, e.g. (7, 0) on 8 × 8). With such sizes
// it may also name a board that does not exist; the server calls it with
// torus sizes (multiples of 12) only.
func ChipToBoard(x, y, w, h int) (Board, error) {
	if w <= 0 || h <= 0 {
		return Board{}, fmt.Errorf("chip (%d, %d): machine size %d×%d chips must be positive", x, y, w, h)
	}
	ex, ey := EthernetChip(x, y, w, h)
	tx, ty := Mod(ex, 12), Mod(ey, 12)
	for z, off := range zOffsets {
		if tx == off[0] && ty == off[1] {
			return Board{X: ex / 12, Y: ey / 12, Z: z}, nil
		}
	}
	return Board{}, fmt.Errorf("chip (%d, %d) is not on any board of a %d×%d-chip machine", x, y, w, h)
}

// PotentialEthernetChips lists the Ethernet chips of every board whose whole
// 8 × 8 square fits in a machine of w × h chips (any board position on a
// torus, i.e. when a size is a multiple of 12), following SpiNNMachine's
// get_potential_ethernet_chips (docs/geometry.md, "Ethernet chips of a machine"). Machines too small for a
// board give [(0, 0)]. The result is sorted by x, then y.
func PotentialEthernetChips(w, h int) [][2]int {
	ew, eh := usableExtent(w), usableExtent(h)
	if ew <= 0 || eh <= 0 {
		return [][2]int{{0, 0}}
	}
	var out [][2]int
	for _, root := range [3][2]int{{0, 0}, {4, 8}, {8, 4}} {
		for y := root[1]; y < eh; y += 12 {
			for x := root[0]; x < ew; x += 12 {
				out = append(out, [2]int{x, y})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

// usableExtent is the range of Ethernet positions along one axis whose
// board square (8 wide) still fits: the whole axis on a torus, else size-7.
func usableExtent(n int) int {
	if Mod(n, 12) == 0 {
		return n
	}
	return n - 7
}

// ChipLocation is where a chip of a whole machine is (where_is by chip).
type ChipLocation struct {
	Chip      [2]int // the chip after wrapping into the machine's chip torus
	BoardChip [2]int // position inside its board (ChipLocal)
	Board     Board  // logical board holding the chip
}

// LocateChip finds chip (x, y) on a machine of wTriads × hTriads triads the
// way the server's where_is does (docs/geometry.md, "Where is"): the chip wraps modulo
// the machine's full torus (12·W × 12·H chips, whatever its real
// wrap-around), then board and board-local chip follow. Negative chips wrap
// too. It fails only for non-positive machine sizes; whether the board is
// live is the caller's business.
func LocateChip(x, y, wTriads, hTriads int) (ChipLocation, error) {
	if wTriads <= 0 || hTriads <= 0 {
		return ChipLocation{}, fmt.Errorf("machine size %d×%d triads must be positive", wTriads, hTriads)
	}
	cw, ch := 12*wTriads, 12*hTriads
	wx, wy := Mod(x, cw), Mod(y, ch)
	b, err := ChipToBoard(wx, wy, cw, ch)
	if err != nil {
		return ChipLocation{}, err // cannot happen for torus sizes
	}
	lx, ly := ChipLocal(wx, wy)
	return ChipLocation{Chip: [2]int{wx, wy}, BoardChip: [2]int{lx, ly}, Board: b}, nil
}

// JobChip returns the job-relative chip coordinate of chip (lx, ly) of board
// b in a job whose per-coordinate minimum board is origin and whose size is
// jw × jh chips (docs/geometry.md, "Where is"): BoardToChip(b - origin) + (lx, ly), each
// component modulo jw / jh.
func JobChip(b Board, lx, ly int, origin Board, jw, jh int) (x, y int) {
	cx, cy := BoardToChip(Board{X: b.X - origin.X, Y: b.Y - origin.Y, Z: b.Z - origin.Z})
	return Mod(cx+lx, jw), Mod(cy+ly, jh)
}
