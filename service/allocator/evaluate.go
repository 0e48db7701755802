package allocator

import (
	"sort"

	"github.com/spalloc/spallocd/service/geometry"
)

// Allocation is a placement: what the service records for a job and what
// it powers on.
type Allocation struct {
	// Boards are the allocated boards, sorted by x, then y, then z. For a
	// block: the working boards reachable from (X0, Y0, 0) inside the block.
	Boards []geometry.Board
	// Periphery is every (board, link) of the allocation whose far board is
	// not in Boards (links to dead, unreachable or foreign boards), sorted by
	// board then link. These are the FPGA links to disable.
	Periphery []BoardLink
	// Torus is the OR of the wrap flags of links between boards of the
	// allocation (dead or alive). Always WrapNone for a single board.
	Torus geometry.Wrap
	// X0, Y0, W, H is the block of triads (W = H = 0 for a single board,
	// then X0, Y0 is the board's triad). The whole block is the job's: its
	// triads are not offered to others while the job holds any of them.
	X0, Y0, W, H int
	// Single is true for single-board allocations (held as HeldSingle).
	Single bool
	// ChipWidth, ChipHeight is the job's size in chips: 8 × 8 for one
	// board, else geometry.TriadsToChips of the boards' triad extent
	// (max − min + 1 on each axis) with Torus (geometry.md §4.9).
	ChipWidth, ChipHeight int
}

// evalResult is the outcome of checking one block.
type evalResult struct {
	alive int
	torus geometry.Wrap
}

// scratch holds reusable buffers for connectivity searches.
type scratch struct {
	mark  []uint32 // mark[i] == gen: board i visited in the current search
	gen   uint32
	queue []int32
}

func newScratch(n int) *scratch { return &scratch{mark: make([]uint32, n), queue: make([]int32, 0, n)} }

func (s *scratch) reset() {
	s.gen++
	if s.gen == 0 { // wrapped: clear stale marks
		clear(s.mark)
		s.gen = 1
	}
	s.queue = s.queue[:0]
}

// blockChecker evaluates blocks of one machine under one set of blocked
// boards (dead, plus unavailable when placing).
type blockChecker struct {
	m       *Machine
	p       *prepared
	blocked []bool // per board
	s       *scratch
}

func newChecker(m *Machine, blocked []bool) *blockChecker {
	p := m.tables()
	return &blockChecker{m: m, p: p, blocked: blocked, s: newScratch(p.n)}
}

// expected is the board count that missing boards are counted against.
func expected(r Request, w, h int) int {
	if r.Kind == NBoards {
		return r.N
	}
	return 3 * w * h
}

// evaluate applies the ALLOC rules to block (x0, y0, w, h): connectivity
// from the bottom-left board, max_dead_boards, max_dead_links and
// require_torus (torus present; whether the block is the whole machine is
// the caller's concern). On success the visited set stays marked in the
// scratch (generation s.gen) for build.
func (c *blockChecker) evaluate(x0, y0, w, h int, r Request) (evalResult, bool) {
	m, p, s := c.m, c.p, c.s
	W := m.Width
	s.reset()
	start := m.BoardIndex(geometry.Board{X: x0, Y: y0})
	if c.blocked[start] {
		return evalResult{}, false
	}
	inBlock := func(i int32) bool {
		t := int(i) / 3
		tx, ty := t%W, t/W
		return tx >= x0 && tx < x0+w && ty >= y0 && ty < y0+h
	}
	s.mark[start] = s.gen
	s.queue = append(s.queue, int32(start))
	for head := 0; head < len(s.queue); head++ {
		i := s.queue[head]
		for l := 0; l < geometry.NumLinks; l++ {
			if m.LinkDead(int(i), geometry.Link(l)) {
				continue
			}
			j := p.next[i][l]
			if s.mark[j] == s.gen || c.blocked[j] || !inBlock(j) {
				continue
			}
			s.mark[j] = s.gen
			s.queue = append(s.queue, j)
		}
	}
	res := evalResult{alive: len(s.queue)}
	if r.MaxDeadBoards != Unlimited && expected(r, w, h)-res.alive > r.MaxDeadBoards {
		return res, false
	}
	deadLinks := 0
	for _, i := range s.queue {
		for l := 0; l < geometry.NumLinks; l++ {
			j := p.next[i][l]
			if s.mark[j] != s.gen {
				continue // periphery
			}
			wr := p.wrap[i][l]
			res.torus |= wr
			if m.LinkDead(int(i), geometry.Link(l)) && (wr == geometry.WrapNone || r.RequireTorus) {
				deadLinks++
			}
		}
	}
	if r.RequireTorus && res.torus == geometry.WrapNone {
		return res, false
	}
	if r.MaxDeadLinks != Unlimited && deadLinks > r.MaxDeadLinks {
		return res, false
	}
	return res, true
}

// build turns the set left marked by a successful evaluate into an
// Allocation.
func (c *blockChecker) build(x0, y0, w, h int, res evalResult) Allocation {
	m, p, s := c.m, c.p, c.s
	idx := append([]int32(nil), s.queue...)
	sort.Slice(idx, func(a, b int) bool { return boardLess(m, idx[a], idx[b]) })
	a := Allocation{X0: x0, Y0: y0, W: w, H: h, Torus: res.torus, Boards: make([]geometry.Board, len(idx))}
	for k, i := range idx {
		a.Boards[k] = m.BoardAt(int(i))
		for l := 0; l < geometry.NumLinks; l++ {
			if s.mark[p.next[i][l]] != s.gen {
				a.Periphery = append(a.Periphery, BoardLink{Board: a.Boards[k], Link: geometry.Link(l)})
			}
		}
	}
	a.ChipWidth, a.ChipHeight = chipSize(a.Boards, a.Torus)
	return a
}

// boardLess orders board indices by x, then y, then z.
func boardLess(m *Machine, a, b int32) bool { return m.BoardAt(int(a)).Less(m.BoardAt(int(b))) }

// chipSize is the job size in chips (geometry.md §4.9).
func chipSize(boards []geometry.Board, torus geometry.Wrap) (int, int) {
	if len(boards) <= 1 {
		return 8, 8
	}
	minX, maxX, minY, maxY := boards[0].X, boards[0].X, boards[0].Y, boards[0].Y
	for _, b := range boards[1:] {
		minX, maxX = min(minX, b.X), max(maxX, b.X)
		minY, maxY = min(minY, b.Y), max(maxY, b.Y)
	}
	return geometry.TriadsToChips(maxX-minX+1, maxY-minY+1, torus)
}

// deadBlocked returns the per-board blocked flags of the empty machine.
func deadBlocked(m *Machine) []bool {
	b := make([]bool, m.NumBoards())
	for i := range b {
		b[i] = m.IsDead(i)
	}
	return b
}

// EvaluateBlock applies the legality rules of behaviour-cases ALLOC to the
// block of w × h triads at (x0, y0) on m with nothing else allocated: it
// returns the allocation the block would give and whether it is legal for
// r's MaxDeadBoards (counted against r.N for NBoards, else 3·w·h),
// MaxDeadLinks and RequireTorus (torus present). It does not check shape
// rules (the request's size, ratio, or that a torus request is the whole
// machine): that is Place's and Feasible's job. A block outside the machine
// is illegal. On an illegal block the returned Allocation is empty.
func EvaluateBlock(m *Machine, x0, y0, w, h int, r Request) (Allocation, bool) {
	if !m.valid() || w <= 0 || h <= 0 || x0 < 0 || y0 < 0 || x0+w > m.Width || y0+h > m.Height {
		return Allocation{}, false
	}
	c := newChecker(m, deadBlocked(m))
	res, ok := c.evaluate(x0, y0, w, h, r)
	if !ok {
		return Allocation{}, false
	}
	return c.build(x0, y0, w, h, res), true
}

// SingleBoardAllocation is the allocation of board b on its own: periphery
// = its six links, torus none, 8 × 8 chips. It does not check that b is
// working or free.
func SingleBoardAllocation(m *Machine, b geometry.Board) Allocation {
	a := Allocation{Boards: []geometry.Board{b}, X0: b.X, Y0: b.Y, Single: true, ChipWidth: 8, ChipHeight: 8}
	for _, l := range geometry.AllLinks {
		a.Periphery = append(a.Periphery, BoardLink{Board: b, Link: l})
	}
	return a
}
