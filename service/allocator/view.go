package allocator

import (
	"sync"

	"github.com/spalloc/spallocd/service/geometry"
)

// triadClass is the derived state of a triad: one-board jobs and blocks
// never share a triad (docs/scheduling.md, "What a request may get").
type triadClass uint8

const (
	triadEmpty    triadClass = iota // no board held or waiting
	triadPartial                    // boards held by single-board jobs or waiting, none by a block
	triadBlock                      // some board held by a block job
	triadReserved                   // forbidden to this placement (another job's reservation)
)

// takesSingles reports whether single-board jobs may use the triad's free
// boards.
func (c triadClass) takesSingles() bool { return c == triadEmpty || c == triadPartial }

// view is one machine with one occupancy, prepared for many block queries:
// 2-D prefix sums make "is this block open", "how many blocked boards" and
// "is it defect-free" O(1). It also carries the scratch space of
// connectivity searches. Views are pooled: get one with getView, return it
// with putView, and never let an Allocation point into it.
type view struct {
	m       *Machine
	p       *prepared
	W, H    int
	blocked []bool // per board: dead or unavailable
	class   []triadClass
	occPS   []int32 // (W+1)·(H+1) prefix sums of non-empty triads
	defPS   []int32 // ... of triads with a blocked board or a dead link
	blkPS   []int32 // ... of blocked boards
	rowPS   []int32 // per row y: (W+1) prefix sums of empty triads
	colPS   []int32 // per column x: (H+1) prefix sums of empty triads

	mark  []uint32 // mark[i] == gen: board i reached by the current search
	gen   uint32
	queue []int32
	last  lastEval // the search whose marks are current
	needN int      // m.need of the request being placed; unknownNeed until asked

	heights, stack []int // maxEmptyRect scratch

	cands, tier []candidate // placeBlock scratch
}

var viewPool = sync.Pool{New: func() any { return new(view) }}

// grow returns s resliced to n elements, reallocating if needed. Contents
// are not cleared.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// getView builds the view of m under occ (nil = all free) from pooled
// buffers.
func getView(m *Machine, occ *Occupancy) *view {
	p := m.tables()
	W, H := m.Width, m.Height
	T, W1, H1 := W*H, W+1, H+1
	v := viewPool.Get().(*view)
	if len(v.mark) != p.n {
		v.mark, v.gen = make([]uint32, p.n), 0 // marks of another size are stale
	}
	v.last, v.needN = lastEval{}, unknownNeed
	v.m, v.p, v.W, v.H = m, p, W, H
	v.blocked = grow(v.blocked, p.n)
	v.class = grow(v.class, T)
	v.occPS = grow(v.occPS, W1*H1)
	v.defPS = grow(v.defPS, W1*H1)
	v.blkPS = grow(v.blkPS, W1*H1)
	v.rowPS = grow(v.rowPS, H*W1)
	v.colPS = grow(v.colPS, W*H1)
	v.queue = grow(v.queue, p.n)[:0]
	v.heights = grow(v.heights, W)
	v.stack = grow(v.stack, W+1)[:0]

	var use []BoardUse
	if occ != nil {
		use = occ.Use
	}
	dead := m.Dead
	// Row 0 and column 0 of the 2-D prefix sums, and column 0 of the 1-D
	// ones, are zero.
	clear(v.occPS[:W1])
	clear(v.defPS[:W1])
	clear(v.blkPS[:W1])
	for y := 0; y < H; y++ {
		v.occPS[(y+1)*W1], v.defPS[(y+1)*W1], v.blkPS[(y+1)*W1] = 0, 0, 0
		v.rowPS[y*W1] = 0
	}
	for x := 0; x < W; x++ {
		v.colPS[x*H1] = 0
	}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			t := y*W + x
			class, blk := triadEmpty, int32(0)
			for i := 3 * t; i < 3*t+3; i++ {
				u := Free
				if i < len(use) {
					u = use[i]
				}
				b := (i < len(dead) && dead[i]) || u == Unavailable
				v.blocked[i] = b
				if b {
					blk++
				}
				switch {
				case u == HeldBlock:
					class = triadBlock
				case (u == HeldSingle || u == Waiting) && class == triadEmpty:
					class = triadPartial
				}
			}
			v.class[t] = class
			nonEmpty, defect := int32(0), int32(0)
			if class != triadEmpty {
				nonEmpty = 1
			}
			if blk > 0 || p.defect[t] {
				defect = 1
			}
			a, b, c := (y+1)*W1+x+1, y*W1+x+1, (y+1)*W1+x
			d := y*W1 + x
			v.occPS[a] = nonEmpty + v.occPS[b] + v.occPS[c] - v.occPS[d]
			v.defPS[a] = defect + v.defPS[b] + v.defPS[c] - v.defPS[d]
			v.blkPS[a] = blk + v.blkPS[b] + v.blkPS[c] - v.blkPS[d]
			empty := 1 - nonEmpty
			v.rowPS[y*W1+x+1] = v.rowPS[y*W1+x] + empty
			v.colPS[x*H1+y+1] = v.colPS[x*H1+y] + empty
		}
	}
	return v
}

// reserve marks the triads of g (clipped to the machine) reserved and
// redoes the sums over used and empty triads. It is a second pass rather
// than part of getView's loop so that the common case, no reservation,
// costs nothing more.
func (v *view) reserve(g Region) {
	if g = g.clip(v.W, v.H); g.Empty() {
		return
	}
	W, W1, H1 := v.W, v.W+1, v.H+1
	for y := g.Y; y < g.Y+g.H; y++ {
		for x := g.X; x < g.X+g.W; x++ {
			v.class[y*W+x] = triadReserved
		}
	}
	for y := 0; y < v.H; y++ {
		for x := 0; x < W; x++ {
			nonEmpty := int32(0)
			if v.class[y*W+x] != triadEmpty {
				nonEmpty = 1
			}
			a, b, c, d := (y+1)*W1+x+1, y*W1+x+1, (y+1)*W1+x, y*W1+x
			v.occPS[a] = nonEmpty + v.occPS[b] + v.occPS[c] - v.occPS[d]
			v.rowPS[y*W1+x+1] = v.rowPS[y*W1+x] + 1 - nonEmpty
			v.colPS[x*H1+y+1] = v.colPS[x*H1+y] + 1 - nonEmpty
		}
	}
}

// putView returns a view to the pool.
func putView(v *view) {
	v.m, v.p = nil, nil
	v.cands, v.tier = v.cands[:0], v.tier[:0]
	viewPool.Put(v)
}

// sum returns the prefix-sum total over block (x, y, w, h).
func (v *view) sum(s []int32, x, y, w, h int) int32 {
	W1 := v.W + 1
	return s[(y+h)*W1+x+w] - s[y*W1+x+w] - s[(y+h)*W1+x] + s[y*W1+x]
}

// open reports whether every triad of the block is empty.
func (v *view) open(x, y, w, h int) bool { return v.sum(v.occPS, x, y, w, h) == 0 }

// exposed counts the block's edge segments that touch empty triads inside
// the machine (lower is better: the rest touches the border or used
// triads — the contact perimeter of docs/scheduling.md, counted from the
// other side so shapes of one area compare fairly).
func (v *view) exposed(x, y, w, h int) int {
	W1, H1 := v.W+1, v.H+1
	n := int32(0)
	if y > 0 {
		r := (y - 1) * W1
		n += v.rowPS[r+x+w] - v.rowPS[r+x]
	}
	if y+h < v.H {
		r := (y + h) * W1
		n += v.rowPS[r+x+w] - v.rowPS[r+x]
	}
	if x > 0 {
		c := (x - 1) * H1
		n += v.colPS[c+y+h] - v.colPS[c+y]
	}
	if x+w < v.W {
		c := (x + w) * H1
		n += v.colPS[c+y+h] - v.colPS[c+y]
	}
	return int(n)
}

// legal applies the ALLOC rules to an open block, cheaply where possible,
// and returns the number of boards the block gives. With useNeed it also
// applies the n-boards rule: at least m.need(r) boards (most.go).
func (v *view) legal(x, y, w, h int, r Request, useNeed bool) (int, bool) {
	if v.blocked[v.m.BoardIndex(geometry.Board{X: x, Y: y})] {
		return 0, false // the bottom-left board must work
	}
	if v.sum(v.defPS, x, y, w, h) == 0 {
		// No dead or unavailable board and no dead link inside: every board
		// is reachable, nothing is missing (3·w·h >= n), and a block
		// spanning the whole machine on an axis has wrap-around links on it.
		return 3 * w * h, !r.RequireTorus || w == v.W || h == v.H
	}
	upper := 3*w*h - int(v.sum(v.blkPS, x, y, w, h))
	if r.MaxDeadBoards != Unlimited && expected(r, w, h)-upper > r.MaxDeadBoards {
		return 0, false
	}
	if useNeed && upper < v.need(r) {
		return 0, false
	}
	res, ok := v.evaluate(x, y, w, h, r)
	if !ok || (useNeed && res.alive < v.need(r)) {
		return 0, false
	}
	return res.alive, true
}

// need is v.m.need(r), computed once per view (only blocks with defects
// ask).
func (v *view) need(r Request) int {
	if v.needN == unknownNeed {
		v.needN = v.m.need(r)
	}
	return v.needN
}

// lastEval remembers which block the current marks belong to, so that
// allocating the block searched last does not search it again.
type lastEval struct {
	x, y, w, h int
	gen        uint32
	res        evalResult
}

// allocate evaluates a block known to be legal and builds its allocation.
func (v *view) allocate(x, y, w, h int, r Request) Allocation {
	if l := v.last; l.gen == v.gen && l.gen != 0 && l.x == x && l.y == y && l.w == w && l.h == h {
		return v.build(x, y, w, h, l.res)
	}
	res, _ := v.evaluate(x, y, w, h, r)
	return v.build(x, y, w, h, res)
}

// maxEmptyRect is the area of the largest rectangle of empty triads once
// block (bx, by, bw, bh) is taken (histogram method, O(W·H)).
func (v *view) maxEmptyRect(bx, by, bw, bh int) int {
	W := v.W
	heights := v.heights[:W]
	clear(heights)
	best := 0
	for y := 0; y < v.H; y++ {
		for x := 0; x < W; x++ {
			inBlock := x >= bx && x < bx+bw && y >= by && y < by+bh
			if inBlock || v.class[y*W+x] != triadEmpty {
				heights[x] = 0
			} else {
				heights[x]++
			}
		}
		var area int
		area, v.stack = largestInHistogram(heights, v.stack[:0])
		best = max(best, area)
	}
	return best
}

// largestInHistogram returns the largest rectangle under the histogram and
// the (possibly grown) stack for reuse.
func largestInHistogram(hs []int, stack []int) (int, []int) {
	best := 0
	for i := 0; i <= len(hs); i++ {
		cur := 0
		if i < len(hs) {
			cur = hs[i]
		}
		for len(stack) > 0 && hs[stack[len(stack)-1]] >= cur {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			left := -1
			if len(stack) > 0 {
				left = stack[len(stack)-1]
			}
			best = max(best, hs[top]*(i-left-1))
		}
		stack = append(stack, i)
	}
	return best, stack
}
