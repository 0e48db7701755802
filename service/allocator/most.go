package allocator

// n boards means n boards: an NBoards request gets a block of at least n
// working, connected boards whenever some legal block of the empty machine
// holds that many; it waits for one rather than take a smaller block now.
// Only when no legal block ever holds n does it take the most any legal
// block holds (MostBoards), so it can still run.

import "math"

// mostCacheSize bounds the MostBoards answers a Machine remembers (requests
// come from clients; a full cache is simply emptied).
const mostCacheSize = 1024

// MostBoards is the most working boards, up to the RequestedBoards of r,
// that one legal placement of r gives on m when m is empty (0 when r can
// never be placed). MostBoards(m, r) < RequestedBoards(r) says that m can
// never offer what r asks for: an n-board request then waits for a block
// of MostBoards boards instead. The answer depends only on m and r; the
// Machine remembers it.
func MostBoards(m *Machine, r Request) int {
	if !m.valid() || ValidateRequest(r) != nil {
		return 0
	}
	switch {
	case r.Kind == SpecificBoard:
		if Feasible(m, r) {
			return 1
		}
		return 0
	case r.single():
		return min(1, m.WorkingBoards())
	}
	return m.mostBoardsCached(r)
}

// need is the least number of boards a block for r must give: MostBoards
// for n-board requests (r.N unless the machine can never offer it), 0 (no
// rule beyond legality) for the other kinds. A block without defects
// always gives 3·w·h >= r.N boards, so it is the common answer and needs
// no search.
func (m *Machine) need(r Request) int {
	if r.Kind != NBoards || r.single() {
		return 0
	}
	if m.offersDefectFree(r) {
		return r.N
	}
	return m.mostBoardsCached(r)
}

// offersDefectFree reports whether some shape of r fits a block of the
// machine without dead boards or dead links (which is then legal for r
// whatever its limits, with 3·w·h >= r.N boards).
func (m *Machine) offersDefectFree(r Request) bool {
	freeH := m.tables().freeH
	for group := range shapeGroups(m, r) {
		for _, s := range group {
			if s.h <= freeH[s.w] {
				return true
			}
		}
	}
	return false
}

// mostBoardsCached answers MostBoards for a block request, remembering the
// answer per request.
func (m *Machine) mostBoardsCached(r Request) int {
	m.mostMu.Lock()
	n, ok := m.most[r]
	m.mostMu.Unlock()
	if ok {
		return n
	}
	v := getView(m, nil)
	n = v.mostBoards(r, RequestedBoards(r))
	putView(v)
	m.mostMu.Lock()
	if m.most == nil || len(m.most) >= mostCacheSize {
		m.most = make(map[Request]int)
	}
	m.most[r] = n
	m.mostMu.Unlock()
	return n
}

// mostBoards searches the view (of the empty machine) for a legal block of
// r giving enough boards, smallest shapes first, since one usually exists
// and a small block is quick to check. Only when none does, it looks for
// the legal block with the most boards: largest shapes first, skipping
// every block whose boards, dead ones taken out, cannot beat the best
// found so far.
func (v *view) mostBoards(r Request, enough int) int {
	var shapes []shape
	for group := range shapeGroups(v.m, r) {
		shapes = append(shapes, group...) // ascending area
	}
	best := 0
	upper := func(s shape, x, y int) int { return 3*s.w*s.h - int(v.sum(v.blkPS, x, y, s.w, s.h)) }
	for _, s := range shapes {
		if 3*s.w*s.h < enough {
			continue
		}
		for y := 0; y+s.h <= v.H; y++ {
			for x := 0; x+s.w <= v.W; x++ {
				if upper(s, x, y) < enough {
					continue
				}
				if alive, ok := v.legal(x, y, s.w, s.h, r, false); ok {
					if alive >= enough {
						return enough
					}
					best = max(best, alive)
				}
			}
		}
	}
	for i := len(shapes) - 1; i >= 0 && 3*shapes[i].w*shapes[i].h > best; i-- {
		s := shapes[i]
		for y := 0; y+s.h <= v.H; y++ {
			for x := 0; x+s.w <= v.W; x++ {
				if upper(s, x, y) <= best || upper(s, x, y) >= enough {
					continue // cannot beat best, or already checked above
				}
				if alive, ok := v.legal(x, y, s.w, s.h, r, false); ok {
					best = max(best, alive)
				}
			}
		}
	}
	return best
}

// unknownNeed marks view.needN as not computed yet.
const unknownNeed = math.MinInt
