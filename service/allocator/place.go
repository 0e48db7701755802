package allocator

import "github.com/spalloc/spallocd/service/geometry"

// Policy holds the tunable parts of choosing among legal placements. Legality
// never depends on it. The zero Policy is valid (plain best fit, no two-ends).
type Policy struct {
	// TwoEnds sends small requests towards the top-right corner and large
	// ones towards the bottom-left, so small jobs do not scatter holes
	// through the space large blocks need (off: it did not help on the
	// traces, docs/scheduling.md).
	TwoEnds bool
	// SmallTriads is the largest request, in triads, that counts as small
	// (single boards count as one triad). 0 = max(1, W·H/64).
	SmallTriads int
	// MaxRect breaks ties of the contact score by keeping the position that
	// leaves the largest empty rectangle of triads.
	MaxRect bool
	// SinglesBestFit opens, for a single board, the empty triad with the
	// fewest working boards first (triads with dead or unavailable boards
	// are useless to most block requests anyway).
	SinglesBestFit bool
}

// DefaultPolicy is what Place uses. Chosen by replaying the eight public
// traces (strict FIFO, one machine): MaxRect alone gave the lowest waits
// overall; TwoEnds and SinglesBestFit made waits longer on most traces.
var DefaultPolicy = Policy{MaxRect: true}

// Place chooses a legal placement for r on m given the current occupancy,
// with DefaultPolicy. It returns false when nothing fits now. The result is
// deterministic for equal inputs. It neither reads nor changes anything
// else; the caller records the allocation (e.g. with Occupancy.Hold).
func Place(m *Machine, occ *Occupancy, r Request) (Allocation, bool) {
	return DefaultPolicy.PlaceAvoiding(m, occ, r, Region{})
}

// PlaceAvoiding is Place with the triads of forbid (another job's
// reservation) kept out of reach: no block overlaps them, they count as
// used when positions are scored, no single board goes into them, and a
// request for a board inside them does not fit.
func PlaceAvoiding(m *Machine, occ *Occupancy, r Request, forbid Region) (Allocation, bool) {
	return DefaultPolicy.PlaceAvoiding(m, occ, r, forbid)
}

// Place is Place with this policy.
//
// Rules: a request that fails ValidateRequest never fits. Single boards
// (OneBoard, NBoards with N = 1) take a free working board of a triad partly
// used by single-board jobs, the one with the fewest free boards left; only
// if there is none do they open an empty triad. SpecificBoard gets its board
// when it is working, free, and its triad is empty or partly used by
// single-board jobs. Blocks (NBoards, Rect) use whole empty triads: shapes
// from the smallest area up (see shapeGroups), and within the first area
// that has a legal open position, the position touching the least free
// space; ties by largest remaining empty rectangle, then by more boards,
// then by the policy's end of the machine, then shape order. An NBoards
// block must give at least N boards, or MostBoards when the machine can
// never offer N. Dead and Unavailable boards are never allocated.
func (p Policy) Place(m *Machine, occ *Occupancy, r Request) (Allocation, bool) {
	return p.PlaceAvoiding(m, occ, r, Region{})
}

// PlaceAvoiding is PlaceAvoiding with this policy.
func (p Policy) PlaceAvoiding(m *Machine, occ *Occupancy, r Request, forbid Region) (Allocation, bool) {
	if !m.valid() || ValidateRequest(r) != nil {
		return Allocation{}, false
	}
	v := getView(m, occ)
	defer putView(v)
	v.reserve(forbid)
	return p.placeIn(v, occ, r)
}

// placeIn places a valid request r in a prepared view of occ.
func (p Policy) placeIn(v *view, occ *Occupancy, r Request) (Allocation, bool) {
	v.last, v.needN = lastEval{}, unknownNeed // of the previous request, if any
	switch {
	case r.Kind == SpecificBoard:
		return v.placeSpecific(r.Board, occ)
	case r.single():
		return p.placeSingle(v, occ)
	}
	return p.placeBlock(v, r)
}

// Feasible reports whether r could ever be placed on m: whether some legal
// placement exists when every working board is free. Every position of
// every allowed shape is checked (not just the corners, unlike the
// original). The answer depends only on r and m's dead boards and links, so
// callers may cache it per machine configuration. To treat out-of-service
// boards as gone, build m with them dead.
func Feasible(m *Machine, r Request) bool {
	if !m.valid() || ValidateRequest(r) != nil {
		return false
	}
	switch {
	case r.Kind == SpecificBoard:
		return r.Board.InMachine(m.Width, m.Height) && !m.IsDead(m.BoardIndex(r.Board))
	case r.single():
		return m.WorkingBoards() > 0
	}
	v := getView(m, nil)
	defer putView(v)
	for group := range shapeGroups(m, r) {
		for _, s := range group {
			for y := 0; y+s.h <= m.Height; y++ {
				for x := 0; x+s.w <= m.Width; x++ {
					if _, ok := v.legal(x, y, s.w, s.h, r, false); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// small reports whether a request of this many triads goes to the small end.
func (p Policy) small(m *Machine, triads int) bool {
	limit := p.SmallTriads
	if limit <= 0 {
		limit = max(1, m.Width*m.Height/64)
	}
	return triads <= limit
}

// candidate is an open position of a shape with its scores.
type candidate struct {
	x, y, w, h, rank int
	exposed          int
	maxRect          int
	boards           int // boards it gives (known once found legal)
}

// better is the one place where positions are compared (after legality and
// the smallest-area rule): least exposed perimeter, then (MaxRect) the
// largest empty rectangle left, then more boards for the job, then the
// policy's end of the machine, then shape order.
func (p Policy) better(a, b candidate, small bool) bool {
	if a.exposed != b.exposed {
		return a.exposed < b.exposed
	}
	if p.MaxRect && a.maxRect != b.maxRect {
		return a.maxRect > b.maxRect
	}
	if a.boards != b.boards {
		return a.boards > b.boards
	}
	if a.y != b.y {
		return (a.y < b.y) != (p.TwoEnds && small)
	}
	if a.x != b.x {
		return (a.x < b.x) != (p.TwoEnds && small)
	}
	return a.rank < b.rank
}

// pick chooses among legal candidates of equal exposure.
func (p Policy) pick(v *view, cands []candidate, small bool) candidate {
	if p.MaxRect && len(cands) > 1 {
		for i := range cands {
			c := &cands[i]
			c.maxRect = v.maxEmptyRect(c.x, c.y, c.w, c.h)
		}
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if p.better(c, best, small) {
			best = c
		}
	}
	return best
}

// placeBlock tries the shapes area by area; see Policy.Place.
func (p Policy) placeBlock(v *view, r Request) (Allocation, bool) {
	// noOpen[w] = smallest h of a shape of width w found to have no open
	// position; any shape containing it has none either.
	noOpen := make([]int, v.W+1)
	for i := range noOpen {
		noOpen[i] = v.H + 1
	}
	cands, tier := v.cands[:0], v.tier[:0]
	defer func() { v.cands, v.tier = cands[:0], tier[:0] }()
	for group := range shapeGroups(v.m, r) {
		cands = cands[:0]
		for _, s := range group {
			if dominated(noOpen, s) {
				continue
			}
			before := len(cands)
			for y := 0; y+s.h <= v.H; y++ {
				for x := 0; x+s.w <= v.W; x++ {
					if v.open(x, y, s.w, s.h) {
						cands = append(cands, candidate{x: x, y: y, w: s.w, h: s.h, rank: s.rank, exposed: v.exposed(x, y, s.w, s.h)})
					}
				}
			}
			if len(cands) == before {
				noOpen[s.w] = min(noOpen[s.w], s.h)
			}
		}
		small := p.small(v.m, group[0].w*group[0].h)
		// Tiers of equal exposure, best first; the first tier with a legal
		// position decides.
		for len(cands) > 0 {
			least := cands[0].exposed
			for _, c := range cands {
				least = min(least, c.exposed)
			}
			tier = tier[:0]
			rest := cands[:0]
			for _, c := range cands {
				if c.exposed != least {
					rest = append(rest, c)
					continue
				}
				var ok bool
				if c.boards, ok = v.legal(c.x, c.y, c.w, c.h, r, true); ok {
					tier = append(tier, c)
				}
			}
			cands = rest
			if len(tier) > 0 {
				c := p.pick(v, tier, small)
				return v.allocate(c.x, c.y, c.w, c.h, r), true
			}
		}
	}
	return Allocation{}, false
}

// dominated reports whether s contains a shape already known to have no
// open position.
func dominated(noOpen []int, s shape) bool {
	for w := 1; w <= s.w && w < len(noOpen); w++ {
		if noOpen[w] <= s.h {
			return true
		}
	}
	return false
}

// placeSpecific allocates one named board if it is working, free and in a
// triad that no block holds.
func (v *view) placeSpecific(b geometry.Board, occ *Occupancy) (Allocation, bool) {
	if !b.InMachine(v.W, v.H) {
		return Allocation{}, false
	}
	i := v.m.BoardIndex(b)
	if v.blocked[i] || occ.At(i) != Free || !v.class[i/3].takesSingles() {
		return Allocation{}, false
	}
	return SingleBoardAllocation(v.m, b), true
}

// placeSingle allocates one board anywhere: best fit among partly used
// triads, else an empty triad chosen like a 1 × 1 block.
func (p Policy) placeSingle(v *view, occ *Occupancy) (Allocation, bool) {
	W := v.W
	freeIn := func(t int) (n, first int) {
		first = -1
		for z := 0; z < 3; z++ {
			i := 3*t + z
			if !v.blocked[i] && occ.At(i) == Free {
				if first < 0 {
					first = i
				}
				n++
			}
		}
		return n, first
	}
	small := p.small(v.m, 1)
	// 1. Partly used triads: fewest free boards left.
	bestT, bestN, bestI := -1, 4, -1
	for t := range v.class {
		if v.class[t] != triadPartial {
			continue
		}
		n, first := freeIn(t)
		if n == 0 {
			continue
		}
		if n < bestN || (n == bestN && p.TwoEnds && small) {
			// With two-ends, the later (higher) triad wins ties.
			bestT, bestN, bestI = t, n, first
		}
	}
	if bestT >= 0 {
		return SingleBoardAllocation(v.m, v.m.BoardAt(bestI)), true
	}
	// 2. Open an empty triad.
	cands := v.cands[:0]
	defer func() { v.cands = cands[:0] }()
	fewest := 4
	for t := range v.class {
		if v.class[t] != triadEmpty {
			continue
		}
		n, _ := freeIn(t)
		if n == 0 {
			continue
		}
		if p.SinglesBestFit {
			if n > fewest {
				continue
			}
			if n < fewest {
				fewest, cands = n, cands[:0]
			}
		}
		x, y := t%W, t/W
		cands = append(cands, candidate{x: x, y: y, w: 1, h: 1, exposed: v.exposed(x, y, 1, 1)})
	}
	if len(cands) == 0 {
		return Allocation{}, false
	}
	least := cands[0].exposed
	for _, c := range cands {
		least = min(least, c.exposed)
	}
	tier := cands[:0]
	for _, c := range cands {
		if c.exposed == least {
			tier = append(tier, c)
		}
	}
	c := p.pick(v, tier, small)
	_, first := freeIn(c.y*W + c.x)
	return SingleBoardAllocation(v.m, v.m.BoardAt(first)), true
}
