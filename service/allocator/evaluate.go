package allocator

import "github.com/spalloc/spallocd/service/geometry"

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
	// (max − min + 1 on each axis) with Torus (docs/geometry.md, "Sizes in
	// chips").
	ChipWidth, ChipHeight int
}

// evalResult is the outcome of checking one block.
type evalResult struct {
	alive int
	torus geometry.Wrap
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
// the caller's concern). The reachable set stays marked (generation v.gen,
// listed in v.queue) for build.
func (v *view) evaluate(x0, y0, w, h int, r Request) (evalResult, bool) {
	p := v.p
	v.gen++
	if v.gen == 0 { // wrapped: clear stale marks
		clear(v.mark)
		v.gen = 1
	}
	gen, mark := v.gen, v.mark
	v.queue = v.queue[:0]
	start := v.m.BoardIndex(geometry.Board{X: x0, Y: y0})
	if v.blocked[start] {
		return evalResult{}, false
	}
	bx0, by0, bx1, by1 := int16(x0), int16(y0), int16(x0+w), int16(y0+h)
	mark[start] = gen
	v.queue = append(v.queue, int32(start))
	for head := 0; head < len(v.queue); head++ {
		i := v.queue[head]
		dead := p.deadMask[i]
		for l := 0; l < geometry.NumLinks; l++ {
			if dead&(1<<l) != 0 {
				continue
			}
			j := p.next[i][l]
			if mark[j] == gen || v.blocked[j] {
				continue
			}
			if tx, ty := p.tx[j], p.ty[j]; tx < bx0 || tx >= bx1 || ty < by0 || ty >= by1 {
				continue
			}
			mark[j] = gen
			v.queue = append(v.queue, j)
		}
	}
	res := evalResult{alive: len(v.queue)}
	if r.MaxDeadBoards != Unlimited && expected(r, w, h)-res.alive > r.MaxDeadBoards {
		return res, false
	}
	deadLinks := 0
	for _, i := range v.queue {
		for l := 0; l < geometry.NumLinks; l++ {
			if mark[p.next[i][l]] != gen {
				continue // periphery
			}
			wr := p.wrap[i][l]
			res.torus |= wr
			if p.deadMask[i]&(1<<l) != 0 && (wr == geometry.WrapNone || r.RequireTorus) {
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
	v.last = lastEval{x: x0, y: y0, w: w, h: h, gen: gen, res: res}
	return res, true
}

// build turns the set left marked by a successful evaluate into an
// Allocation. Walking the block in x, y, z order keeps Boards sorted.
func (v *view) build(x0, y0, w, h int, res evalResult) Allocation {
	m, p := v.m, v.p
	a := Allocation{X0: x0, Y0: y0, W: w, H: h, Torus: res.torus, Boards: make([]geometry.Board, 0, len(v.queue))}
	for x := x0; x < x0+w; x++ {
		for y := y0; y < y0+h; y++ {
			for z := 0; z < 3; z++ {
				b := geometry.Board{X: x, Y: y, Z: z}
				i := m.BoardIndex(b)
				if v.mark[i] != v.gen {
					continue
				}
				a.Boards = append(a.Boards, b)
				for l := 0; l < geometry.NumLinks; l++ {
					if v.mark[p.next[i][l]] != v.gen {
						a.Periphery = append(a.Periphery, BoardLink{Board: b, Link: geometry.Link(l)})
					}
				}
			}
		}
	}
	a.ChipWidth, a.ChipHeight = chipSize(a.Boards, a.Torus)
	return a
}

// chipSize is the job size in chips (docs/geometry.md, "Sizes in chips").
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

// EvaluateBlock applies the legality rules of the ALLOC cases to the
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
	v := getView(m, nil)
	defer putView(v)
	res, ok := v.evaluate(x0, y0, w, h, r)
	if !ok {
		return Allocation{}, false
	}
	return v.build(x0, y0, w, h, res), true
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
