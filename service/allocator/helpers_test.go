package allocator

import (
	"fmt"
	"sort"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

type B = geometry.Board

const (
	E  = geometry.East
	NE = geometry.NorthEast
	N  = geometry.North
	W  = geometry.West
	SW = geometry.SouthWest
	S  = geometry.South
)

func mustMachine(t testing.TB, w, h int, dead []B, deadLinks ...BoardLink) *Machine {
	t.Helper()
	m, err := NewMachine(w, h, dead, deadLinks)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func bd(x, y, z int) B { return B{X: x, Y: y, Z: z} }

func dl(x, y, z int, l geometry.Link) BoardLink { return BoardLink{Board: bd(x, y, z), Link: l} }

// periphery formats a periphery as "board: links" per board, sorted.
func peripheryString(p []BoardLink) string {
	by := map[B][]geometry.Link{}
	var boards []B
	for _, bl := range p {
		if _, ok := by[bl.Board]; !ok {
			boards = append(boards, bl.Board)
		}
		by[bl.Board] = append(by[bl.Board], bl.Link)
	}
	sort.Slice(boards, func(i, j int) bool { return boards[i].Less(boards[j]) })
	s := ""
	for _, b := range boards {
		ls := by[b]
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		s += fmt.Sprintf("%v:%v ", b, ls)
	}
	return s
}

func withLimits(r Request, mdb, mdl int, torus bool) Request {
	r.MaxDeadBoards, r.MaxDeadLinks, r.RequireTorus = mdb, mdl, torus
	return r
}

// place places r on occ and records it, failing the test on error.
func place(t failer, m *Machine, occ *Occupancy, r Request) (Allocation, bool) {
	t.Helper()
	a, ok := Place(m, occ, r)
	if ok {
		checkAllocation(t, m, occ, a)
		occ.Hold(m, a)
	}
	return a, ok
}

// checkAllocation asserts the PLACE-06 invariants of a fresh allocation
// against the occupancy it was placed on.
func checkAllocation(t failer, m *Machine, occ *Occupancy, a Allocation) {
	t.Helper()
	if len(a.Boards) == 0 {
		t.Fatalf("allocation without boards: %+v", a)
	}
	in := map[B]bool{}
	for _, b := range a.Boards {
		if !b.InMachine(m.Width, m.Height) {
			t.Fatalf("board %v outside the machine", b)
		}
		i := m.BoardIndex(b)
		if m.IsDead(i) || occ.At(i) != Free {
			t.Fatalf("board %v is dead or not free (%v)", b, occ.At(i))
		}
		if in[b] {
			t.Fatalf("board %v twice", b)
		}
		in[b] = true
	}
	// Periphery = every link leaving the set; torus = OR of internal wraps.
	var want []BoardLink
	torus := geometry.WrapNone
	for _, b := range a.Boards {
		for _, l := range geometry.AllLinks {
			to, w := geometry.BoardDownLink(b, l, m.Width, m.Height)
			if in[to] {
				torus |= w
			} else {
				want = append(want, BoardLink{b, l})
			}
		}
	}
	if peripheryString(want) != peripheryString(a.Periphery) || len(want) != len(a.Periphery) {
		t.Fatalf("periphery %s, want %s", peripheryString(a.Periphery), peripheryString(want))
	}
	if a.Single {
		if len(a.Boards) != 1 || a.Torus != geometry.WrapNone || a.ChipWidth != 8 || a.ChipHeight != 8 {
			t.Fatalf("bad single-board allocation %+v", a)
		}
		return
	}
	if a.Torus != torus {
		t.Fatalf("torus %v, want %v", a.Torus, torus)
	}
	// Whole triads of one rectangle, all reachable from (x0, y0, 0), every
	// triad of the block empty before.
	if a.W <= 0 || a.H <= 0 || a.X0 < 0 || a.Y0 < 0 || a.X0+a.W > m.Width || a.Y0+a.H > m.Height {
		t.Fatalf("bad block %d,%d %dx%d", a.X0, a.Y0, a.W, a.H)
	}
	for y := a.Y0; y < a.Y0+a.H; y++ {
		for x := a.X0; x < a.X0+a.W; x++ {
			for z := 0; z < 3; z++ {
				if u := occ.At(m.BoardIndex(bd(x, y, z))); u != Free && u != Unavailable {
					t.Fatalf("block %d,%d %dx%d overlaps used board %v (%v)", a.X0, a.Y0, a.W, a.H, bd(x, y, z), u)
				}
			}
		}
	}
	for _, b := range a.Boards {
		if b.X < a.X0 || b.X >= a.X0+a.W || b.Y < a.Y0 || b.Y >= a.Y0+a.H {
			t.Fatalf("board %v outside block", b)
		}
	}
	if !in[bd(a.X0, a.Y0, 0)] {
		t.Fatalf("bottom-left board of %d,%d not in the allocation", a.X0, a.Y0)
	}
	seen := map[B]bool{bd(a.X0, a.Y0, 0): true}
	queue := []B{bd(a.X0, a.Y0, 0)}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, l := range geometry.AllLinks {
			if m.LinkDead(m.BoardIndex(b), l) {
				continue
			}
			to, _ := geometry.BoardDownLink(b, l, m.Width, m.Height)
			if in[to] && !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	if len(seen) != len(a.Boards) {
		t.Fatalf("%d of %d boards reachable from the bottom-left", len(seen), len(a.Boards))
	}
}

// failer is what the checks need from *testing.T and *rapid.T.
type failer interface {
	Helper()
	Fatalf(format string, args ...any)
}
