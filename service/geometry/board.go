package geometry

import "fmt"

// Board is a board's logical position: triad (X, Y) and board Z ∈ {0, 1, 2}
// within the triad.
type Board struct{ X, Y, Z int }

// String formats the board as "(x, y, z)".
func (b Board) String() string { return fmt.Sprintf("(%d, %d, %d)", b.X, b.Y, b.Z) }

// Less orders boards by x, then y, then z (the order of Python's tuples; the
// origin of a job's connections is the smallest board in this order).
func (b Board) Less(o Board) bool {
	if b.X != o.X {
		return b.X < o.X
	}
	if b.Y != o.Y {
		return b.Y < o.Y
	}
	return b.Z < o.Z
}

// InMachine reports whether b lies inside a machine of w × h triads.
func (b Board) InMachine(w, h int) bool {
	return b.X >= 0 && b.X < w && b.Y >= 0 && b.Y < h && b.Z >= 0 && b.Z < 3
}

// Wrap says which wrap-around links something uses: bit 0 = X, bit 1 = Y
// (spalloc_server's WrapAround; values are stable and may be stored).
type Wrap int

// Wrap-around flags.
const (
	WrapNone Wrap = 0
	WrapX    Wrap = 1
	WrapY    Wrap = 2
	WrapBoth Wrap = 3
)

// HasX reports wrap-around in X.
func (w Wrap) HasX() bool { return w&WrapX != 0 }

// HasY reports wrap-around in Y.
func (w Wrap) HasY() bool { return w&WrapY != 0 }

// String returns "none", "x", "y" or "both".
func (w Wrap) String() string {
	switch w {
	case WrapNone:
		return "none"
	case WrapX:
		return "x"
	case WrapY:
		return "y"
	case WrapBoth:
		return "both"
	}
	return fmt.Sprintf("Wrap(%d)", int(w))
}

// boardVectors[z][link] = (dx, dy, dz): all 18 entries (the 9 of
// docs/geometry.md, "Board links", plus their derived opposites).
var boardVectors = [3][NumLinks][3]int{
	{ // z = 0
		East: {0, -1, 2}, NorthEast: {0, 0, 1}, North: {0, 0, 2},
		West: {-1, 0, 1}, SouthWest: {-1, -1, 2}, South: {-1, -1, 1},
	},
	{ // z = 1
		East: {1, 0, -1}, NorthEast: {1, 0, 1}, North: {1, 1, -1},
		West: {0, 0, 1}, SouthWest: {0, 0, -1}, South: {0, -1, 1},
	},
	{ // z = 2
		East: {0, 0, -1}, NorthEast: {1, 1, -2}, North: {0, 1, -1},
		West: {0, 1, -2}, SouthWest: {-1, 0, -1}, South: {0, 0, -2},
	},
}

// BoardLinkVector returns the displacement (dx, dy, dz) of following link l
// from a board with the given z (docs/geometry.md, "Board links"). ok is false for z outside
// 0..2 or an invalid link.
func BoardLinkVector(z int, l Link) (dx, dy, dz int, ok bool) {
	if z < 0 || z > 2 || !l.Valid() {
		return 0, 0, 0, false
	}
	v := boardVectors[z][l]
	return v[0], v[1], v[2], true
}

// BoardDownLink follows link l from board b in a machine of wTriads × hTriads
// triads (spalloc_server's board_down_link). It returns the board reached and
// whether the step wrapped around in X, Y or both. Inputs outside the domain
// (z not in 0..2, invalid link, non-positive size) return (b, WrapNone): the
// caller validates boards and sizes once, this function sits on hot paths.
func BoardDownLink(b Board, l Link, wTriads, hTriads int) (Board, Wrap) {
	dx, dy, dz, ok := BoardLinkVector(b.Z, l)
	if !ok || wTriads <= 0 || hTriads <= 0 {
		return b, WrapNone
	}
	ux, uy := b.X+dx, b.Y+dy
	to := Board{X: Mod(ux, wTriads), Y: Mod(uy, hTriads), Z: b.Z + dz}
	wrapped := WrapNone
	if to.X != ux {
		wrapped |= WrapX
	}
	if to.Y != uy {
		wrapped |= WrapY
	}
	return to, wrapped
}

// zOffsets are the Ethernet chip offsets of the three boards inside a triad
// (docs/geometry.md, "Triads").
var zOffsets = [3][2]int{{0, 0}, {8, 4}, {4, 8}}

// BoardToChip returns the chip coordinate of board b's Ethernet chip:
// (12x, 12y) + offset(z), with no wrapping (docs/geometry.md, "Triads"). A z outside
// 0..2 is treated as 0.
func BoardToChip(b Board) (x, y int) {
	z := b.Z
	if z < 0 || z > 2 {
		z = 0
	}
	return 12*b.X + zOffsets[z][0], 12*b.Y + zOffsets[z][1]
}

// TriadsToChips converts a size in triads to a size in chips
// (docs/geometry.md, "Sizes in chips"): 12 per triad, plus 4 on each axis without wrap-around. Single-board
// jobs are 8 × 8 and are not computed with this function.
func TriadsToChips(wTriads, hTriads int, wrap Wrap) (cw, ch int) {
	cw, ch = 12*wTriads, 12*hTriads
	if !wrap.HasX() {
		cw += 4
	}
	if !wrap.HasY() {
		ch += 4
	}
	return cw, ch
}
