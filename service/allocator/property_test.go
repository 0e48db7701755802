package allocator

import (
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
	"pgregory.net/rapid"
)

// genMachine draws a small machine with random dead boards and links.
func genMachine(t *rapid.T) *Machine {
	w := rapid.IntRange(1, 5).Draw(t, "w")
	h := rapid.IntRange(1, 5).Draw(t, "h")
	deadP := rapid.SampledFrom([]float64{0, 0.05, 0.2}).Draw(t, "deadP")
	linkP := rapid.SampledFrom([]float64{0, 0.03, 0.1}).Draw(t, "linkP")
	var dead []B
	var links []BoardLink
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for z := 0; z < 3; z++ {
				if rapid.Float64Range(0, 1).Draw(t, "d") < deadP {
					dead = append(dead, bd(x, y, z))
				}
				for _, l := range geometry.AllLinks {
					if rapid.Float64Range(0, 1).Draw(t, "l") < linkP {
						links = append(links, BoardLink{bd(x, y, z), l})
					}
				}
			}
		}
	}
	m, err := NewMachine(w, h, dead, links)
	if err != nil {
		t.Fatalf("NewMachine: %v", err)
	}
	return m
}

func genLimit(t *rapid.T, label string) int {
	return rapid.SampledFrom([]int{Unlimited, Unlimited, 0, 1, 3}).Draw(t, label)
}

// genFilled draws a machine with up to jobs random requests placed on it.
func genFilled(t *rapid.T, jobs int) (*Machine, *Occupancy) {
	m := genMachine(t)
	occ := NewOccupancy(m)
	for i := rapid.IntRange(0, jobs).Draw(t, "jobs"); i > 0; i-- {
		if a, ok := Place(m, occ, genRequest(t, m)); ok {
			occ.Hold(m, a)
		}
	}
	return m, occ
}

// genRegion draws a forbidden region that may be empty or stick out of m.
func genRegion(t *rapid.T, m *Machine) Region {
	return rg(rapid.IntRange(-1, m.Width).Draw(t, "fx"), rapid.IntRange(-1, m.Height).Draw(t, "fy"),
		rapid.IntRange(0, m.Width).Draw(t, "fw"), rapid.IntRange(0, m.Height).Draw(t, "fh"))
}

// genRequest draws a valid request that fits the machine's coordinates
// most of the time.
func genRequest(t *rapid.T, m *Machine) Request {
	var r Request
	switch rapid.IntRange(0, 3).Draw(t, "kind") {
	case 0:
		r = OneBoardRequest()
	case 1:
		r = NBoardsRequest(rapid.IntRange(1, 3*m.Width*m.Height+2).Draw(t, "n"))
		r.MinRatio = rapid.SampledFrom([]float64{0, 0, 0.333, 0.5, 1.0, 2.0}).Draw(t, "ratio")
	case 2:
		r = RectRequest(rapid.IntRange(1, m.Width+1).Draw(t, "rw"), rapid.IntRange(1, m.Height+1).Draw(t, "rh"))
	default:
		r = SpecificBoardRequest(bd(rapid.IntRange(0, m.Width-1).Draw(t, "bx"),
			rapid.IntRange(0, m.Height-1).Draw(t, "by"), rapid.IntRange(0, 2).Draw(t, "bz")))
	}
	if r.Kind == NBoards || r.Kind == Rect {
		r.MaxDeadBoards = genLimit(t, "mdb")
		r.MaxDeadLinks = genLimit(t, "mdl")
		r.RequireTorus = r.N != 1 && rapid.IntRange(0, 9).Draw(t, "torus") == 0
	}
	return r
}

// bruteLegal is an independent, slow statement of the ALLOC rules. It also
// returns the number of boards the block gives.
func bruteLegal(m *Machine, occ *Occupancy, x0, y0, w, h int, r Request) (int, bool) {
	blocked := func(b B) bool {
		i := m.BoardIndex(b)
		return m.IsDead(i) || occ.At(i) == Unavailable
	}
	inBlock := func(b B) bool { return b.X >= x0 && b.X < x0+w && b.Y >= y0 && b.Y < y0+h }
	start := bd(x0, y0, 0)
	if blocked(start) {
		return 0, false
	}
	set := map[B]bool{start: true}
	queue := []B{start}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, l := range geometry.AllLinks {
			if m.LinkDead(m.BoardIndex(b), l) {
				continue
			}
			to, _ := geometry.BoardDownLink(b, l, m.Width, m.Height)
			if inBlock(to) && !blocked(to) && !set[to] {
				set[to] = true
				queue = append(queue, to)
			}
		}
	}
	exp := 3 * w * h
	if r.Kind == NBoards {
		exp = r.N
	}
	if r.MaxDeadBoards != Unlimited && exp-len(set) > r.MaxDeadBoards {
		return 0, false
	}
	deadLinks, torus := 0, geometry.WrapNone
	for b := range set {
		for _, l := range geometry.AllLinks {
			to, wr := geometry.BoardDownLink(b, l, m.Width, m.Height)
			if !set[to] {
				continue
			}
			torus |= wr
			if m.LinkDead(m.BoardIndex(b), l) && (wr == geometry.WrapNone || r.RequireTorus) {
				deadLinks++
			}
		}
	}
	if r.RequireTorus && torus == geometry.WrapNone {
		return 0, false
	}
	return len(set), r.MaxDeadLinks == Unlimited || deadLinks <= r.MaxDeadLinks
}

// bruteMost is the most boards a legal block of r gives on the empty
// machine (0 if none).
func bruteMost(m *Machine, r Request) int {
	best, empty := 0, NewOccupancy(m)
	for _, s := range bruteShapes(m, r) {
		for y := 0; y+s[1] <= m.Height; y++ {
			for x := 0; x+s[0] <= m.Width; x++ {
				if n, ok := bruteLegal(m, empty, x, y, s[0], s[1], r); ok {
					best = max(best, n)
				}
			}
		}
	}
	return best
}

// bruteNeed is the boards a block for r must give (issue 17.1): n, or the
// most the empty machine offers when that is less.
func bruteNeed(m *Machine, r Request) int {
	if r.Kind != NBoards || r.N == 1 {
		return 0
	}
	return min(r.N, bruteMost(m, r))
}

// bruteShapes lists every allowed block shape (docs/scheduling.md, "What a
// request may get"), in no particular order.
func bruteShapes(m *Machine, r Request) [][2]int {
	var out [][2]int
	for w := 1; w <= m.Width; w++ {
		for h := 1; h <= m.Height; h++ {
			whole := w == m.Width && h == m.Height
			switch r.Kind {
			case Rect:
				if w == r.W && h == r.H && (!r.RequireTorus || whole) {
					out = append(out, [2]int{w, h})
				}
			case NBoards:
				t := (r.N + 2) / 3
				rt := r.MinRatio
				if rt > 1 {
					rt = 1 / rt
				}
				okRatio := float64(min(w, h))/float64(max(w, h)) >= rt
				if r.RequireTorus {
					okRatio = okRatio && whole && t == w*h
				}
				if w*h >= t && okRatio {
					out = append(out, [2]int{w, h})
				}
			}
		}
	}
	return out
}

// bruteBlock returns the smallest area of an open block that is legal and
// gives the boards bruteNeed asks for, or 0.
func bruteBlock(m *Machine, occ *Occupancy, r Request) int {
	best, need := 0, bruteNeed(m, r)
	for _, s := range bruteShapes(m, r) {
		for y := 0; y+s[1] <= m.Height; y++ {
			for x := 0; x+s[0] <= m.Width; x++ {
				if !bruteOpen(m, occ, x, y, s[0], s[1]) {
					continue
				}
				if n, ok := bruteLegal(m, occ, x, y, s[0], s[1], r); !ok || n < need {
					continue
				}
				if a := s[0] * s[1]; best == 0 || a < best {
					best = a
				}
			}
		}
	}
	return best
}

func bruteOpen(m *Machine, occ *Occupancy, x0, y0, w, h int) bool {
	for y := y0; y < y0+h; y++ {
		for x := x0; x < x0+w; x++ {
			for z := 0; z < 3; z++ {
				switch occ.At(m.BoardIndex(bd(x, y, z))) {
				case HeldSingle, HeldBlock, Waiting:
					return false
				}
			}
		}
	}
	return true
}

// triadHasBlock reports whether a block job holds a board of b's triad.
func triadHasBlock(m *Machine, occ *Occupancy, b B) bool {
	for z := 0; z < 3; z++ {
		if occ.At(m.BoardIndex(bd(b.X, b.Y, z))) == HeldBlock {
			return true
		}
	}
	return false
}

func bruteSingle(m *Machine, occ *Occupancy, r Request) bool {
	usable := func(b B) bool {
		i := m.BoardIndex(b)
		return !m.IsDead(i) && occ.At(i) == Free && !triadHasBlock(m, occ, b)
	}
	if r.Kind == SpecificBoard {
		return r.Board.InMachine(m.Width, m.Height) && usable(r.Board)
	}
	for i := 0; i < m.NumBoards(); i++ {
		if usable(m.BoardAt(i)) {
			return true
		}
	}
	return false
}

func TestPlacementProperties(t *testing.T) { // PLACE-06 and liveness
	rapid.Check(t, func(t *rapid.T) {
		m := genMachine(t)
		pol := rapid.SampledFrom([]Policy{DefaultPolicy, {}, {TwoEnds: true, MaxRect: true, SinglesBestFit: true}, {TwoEnds: true, SmallTriads: 4}}).Draw(t, "policy")
		occ := NewOccupancy(m)
		var live []Allocation
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 6: // place
				r := genRequest(t, m)
				var want bool
				wantArea := 0
				if r.single() || r.Kind == SpecificBoard {
					want = bruteSingle(m, occ, r)
				} else {
					wantArea = bruteBlock(m, occ, r)
					want = wantArea > 0
				}
				a, ok := pol.Place(m, occ, r)
				if ok != want {
					t.Fatalf("Place(%s) = %v, brute force says %v", name(r), ok, want)
				}
				if !ok {
					continue
				}
				checkAllocation(t, m, occ, a)
				if !a.Single && a.W*a.H != wantArea {
					t.Fatalf("Place(%s) used %dx%d, a legal block of area %d exists", name(r), a.W, a.H, wantArea)
				}
				if _, legal := bruteLegal(m, occ, a.X0, a.Y0, a.W, a.H, r); !a.Single && !legal {
					t.Fatalf("Place(%s) chose an illegal block %d,%d %dx%d", name(r), a.X0, a.Y0, a.W, a.H)
				}
				// n boards means n boards (issue 17.1), or the most the
				// machine can ever offer.
				if most := bruteMost(m, r); r.Kind == NBoards && !a.Single && len(a.Boards) < min(r.N, most) {
					t.Fatalf("Place(%s) gave %d boards; the empty machine offers %d", name(r), len(a.Boards), most)
				}
				if r.Kind == SpecificBoard && a.Boards[0] != r.Board {
					t.Fatalf("asked for %v, got %v", r.Board, a.Boards)
				}
				occ.Hold(m, a)
				live = append(live, a)
			case op < 8 && len(live) > 0: // free, sometimes via a power-off wait
				k := rapid.IntRange(0, len(live)-1).Draw(t, "free")
				if rapid.Bool().Draw(t, "wait") {
					occ.Set(m, live[k].Boards, Waiting)
				} else {
					occ.Release(m, live[k])
				}
				live = append(live[:k], live[k+1:]...)
			case op == 8: // a free board goes out of service, or a waiting one returns
				i := rapid.IntRange(0, m.NumBoards()-1).Draw(t, "board")
				switch occ.Use[i] {
				case Free:
					occ.Use[i] = Unavailable
				case Unavailable, Waiting:
					occ.Use[i] = Free
				}
			default: // feasibility agrees with the brute force on the empty machine
				r := genRequest(t, m)
				empty := NewOccupancy(m)
				want := false
				if r.single() || r.Kind == SpecificBoard {
					want = bruteSingle(m, empty, r)
				} else {
					want = bruteBlock(m, empty, r) > 0
				}
				if got := Feasible(m, r); got != want {
					t.Fatalf("Feasible(%s) = %v, brute force says %v", name(r), got, want)
				}
				if !r.single() && r.Kind != SpecificBoard {
					if got, most := MostBoards(m, r), min(RequestedBoards(r), bruteMost(m, r)); got != most {
						t.Fatalf("MostBoards(%s) = %d, brute force says %d", name(r), got, most)
					}
				}
			}
		}
	})
}
