package allocator

import "github.com/spalloc/spallocd/service/geometry"

// triadClass is the derived state of a triad (allocation.md "State to keep").
type triadClass uint8

const (
	triadEmpty   triadClass = iota // no board held or waiting
	triadPartial                   // boards held by single-board jobs or waiting, none by a block
	triadBlock                     // some board held by a block job
)

// view is one machine with one occupancy, prepared for many block queries:
// 2-D prefix sums make "is this block open", "how many blocked boards" and
// "is it defect-free" O(1).
type view struct {
	m       *Machine
	W, H    int
	blocked []bool // per board: dead or unavailable
	class   []triadClass
	occPS   []int32 // (W+1)·(H+1) prefix sums of non-empty triads
	defPS   []int32 // ... of triads with a blocked board or a dead link
	blkPS   []int32 // ... of blocked boards
	rowPS   []int32 // per row y: (W+1) prefix sums of empty triads
	colPS   []int32 // per column x: (H+1) prefix sums of empty triads
	chk     *blockChecker
}

func newView(m *Machine, occ *Occupancy) *view {
	p := m.tables()
	W, H := m.Width, m.Height
	v := &view{m: m, W: W, H: H, blocked: make([]bool, p.n), class: make([]triadClass, W*H)}
	defect := make([]bool, W*H)
	blk := make([]int32, W*H)
	for i := 0; i < p.n; i++ {
		t := i / 3
		u := occ.At(i)
		if m.IsDead(i) || u == Unavailable {
			v.blocked[i] = true
			blk[t]++
		}
		switch u {
		case HeldBlock:
			v.class[t] = triadBlock
		case HeldSingle, Waiting:
			if v.class[t] == triadEmpty {
				v.class[t] = triadPartial
			}
		}
	}
	for t := range defect {
		defect[t] = p.defect[t] || blk[t] > 0
	}
	v.occPS = prefix2D(W, H, func(t int) int32 { return b2i(v.class[t] != triadEmpty) })
	v.defPS = prefix2D(W, H, func(t int) int32 { return b2i(defect[t]) })
	v.blkPS = prefix2D(W, H, func(t int) int32 { return blk[t] })
	v.rowPS = make([]int32, H*(W+1))
	v.colPS = make([]int32, W*(H+1))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			e := b2i(v.class[y*W+x] == triadEmpty)
			v.rowPS[y*(W+1)+x+1] = v.rowPS[y*(W+1)+x] + e
			v.colPS[x*(H+1)+y+1] = v.colPS[x*(H+1)+y] + e
		}
	}
	v.chk = newChecker(m, v.blocked)
	return v
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// prefix2D builds S with S[(y)*(W+1)+x] = sum of f over triads x' < x, y' < y.
func prefix2D(W, H int, f func(t int) int32) []int32 {
	s := make([]int32, (W+1)*(H+1))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			s[(y+1)*(W+1)+x+1] = f(y*W+x) + s[y*(W+1)+x+1] + s[(y+1)*(W+1)+x] - s[y*(W+1)+x]
		}
	}
	return s
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
// triads — the contact perimeter of allocation.md, normalised so shapes of
// one area compare fairly).
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

// legal applies the ALLOC rules to an open block, cheaply where possible.
func (v *view) legal(x, y, w, h int, r Request) bool {
	if v.blocked[v.m.BoardIndex(geometry.Board{X: x, Y: y})] {
		return false // the bottom-left board must work
	}
	if v.sum(v.defPS, x, y, w, h) == 0 {
		// No dead or unavailable board and no dead link inside: every board
		// is reachable, nothing is missing, and a block spanning the whole
		// machine on an axis has wrap-around links on it.
		return !r.RequireTorus || w == v.W || h == v.H
	}
	if r.MaxDeadBoards != Unlimited {
		upper := 3*w*h - int(v.sum(v.blkPS, x, y, w, h))
		if expected(r, w, h)-upper > r.MaxDeadBoards {
			return false
		}
	}
	_, ok := v.chk.evaluate(x, y, w, h, r)
	return ok
}

// allocate evaluates a block known to be legal and builds its allocation.
func (v *view) allocate(x, y, w, h int, r Request) Allocation {
	res, _ := v.chk.evaluate(x, y, w, h, r)
	return v.chk.build(x, y, w, h, res)
}

// maxEmptyRect is the area of the largest rectangle of empty triads once
// block (bx, by, bw, bh) is taken (histogram method, O(W·H)).
func (v *view) maxEmptyRect(bx, by, bw, bh int, heights, stack []int) int {
	W := v.W
	for i := range heights[:W] {
		heights[i] = 0
	}
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
		best = max(best, largestInHistogram(heights[:W], stack[:0]))
	}
	return best
}

func largestInHistogram(hs []int, stack []int) int {
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
	return best
}
