package allocator

import (
	"fmt"
	"sync"

	"github.com/spalloc/spallocd/service/geometry"
)

// BoardLink is one direction of a link leaving a board: a dead link in a
// machine description, or an entry of an allocation's periphery.
type BoardLink struct {
	Board geometry.Board
	Link  geometry.Link
}

// Machine is the static description the allocator needs: size in triads,
// dead boards and dead links. Build it with NewMachine; do not modify it once
// it has been used (derived tables are computed on first use). A *Machine is
// safe for concurrent use by several goroutines.
type Machine struct {
	Width, Height int // in triads

	// Dead is indexed by BoardIndex; nil or short means "not dead".
	Dead []bool
	// DeadLinks is indexed by BoardIndex then link (outgoing direction);
	// nil or short means "working". A link dead both ways needs both entries.
	DeadLinks [][geometry.NumLinks]bool

	once sync.Once
	prep *prepared

	mostMu sync.Mutex
	most   map[Request]int // MostBoards answers (see mostBoardsCached)
}

// prepared holds tables derived once from the Machine.
type prepared struct {
	n        int
	next     [][geometry.NumLinks]int32 // board index reached by each link
	wrap     [][geometry.NumLinks]geometry.Wrap
	deadMask []uint8 // per board: bit l set when link l leaving it is dead
	tx, ty   []int16 // per board: its triad's coordinates
	defect   []bool  // per triad: a dead board or a dead link leaving one of its boards
	deadCnt  []int32 // per triad: dead boards
	// freeH[w] is the greatest h such that some w × h block holds no
	// defective triad (0: none); such a block gives all its 3·w·h boards
	// to any request.
	freeH []int
}

// NewMachine builds a machine of w × h triads with the given dead boards and
// dead links (each a link leaving the named board). It fails, naming the
// culprit, for a non-positive size or a board or link outside the machine.
func NewMachine(w, h int, deadBoards []geometry.Board, deadLinks []BoardLink) (*Machine, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("machine size %d×%d triads must be positive", w, h)
	}
	m := &Machine{Width: w, Height: h, Dead: make([]bool, 3*w*h), DeadLinks: make([][geometry.NumLinks]bool, 3*w*h)}
	for _, b := range deadBoards {
		if !b.InMachine(w, h) {
			return nil, fmt.Errorf("dead board %v is outside the %d×%d machine", b, w, h)
		}
		m.Dead[m.BoardIndex(b)] = true
	}
	for _, dl := range deadLinks {
		if !dl.Board.InMachine(w, h) {
			return nil, fmt.Errorf("dead link %v %v starts outside the %d×%d machine", dl.Board, dl.Link, w, h)
		}
		if !dl.Link.Valid() {
			return nil, fmt.Errorf("dead link %v has invalid direction %d", dl.Board, int(dl.Link))
		}
		m.DeadLinks[m.BoardIndex(dl.Board)][dl.Link] = true
	}
	return m, nil
}

// NumBoards is 3 · Width · Height (dead ones included).
func (m *Machine) NumBoards() int {
	if m.Width <= 0 || m.Height <= 0 {
		return 0
	}
	return 3 * m.Width * m.Height
}

// BoardIndex is 3·(y·W + x) + z, the index used by Dead, DeadLinks and
// Occupancy.Use. The board must lie inside the machine.
func (m *Machine) BoardIndex(b geometry.Board) int { return 3*(b.Y*m.Width+b.X) + b.Z }

// BoardAt is the inverse of BoardIndex.
func (m *Machine) BoardAt(i int) geometry.Board {
	t := i / 3
	return geometry.Board{X: t % m.Width, Y: t / m.Width, Z: i % 3}
}

// IsDead reports whether the board with index i is dead in the configuration.
func (m *Machine) IsDead(i int) bool { return i >= 0 && i < len(m.Dead) && m.Dead[i] }

// LinkDead reports whether link l leaving board index i is dead.
func (m *Machine) LinkDead(i int, l geometry.Link) bool {
	return i >= 0 && i < len(m.DeadLinks) && l.Valid() && m.DeadLinks[i][l]
}

// WorkingBoards counts the boards that are not dead.
func (m *Machine) WorkingBoards() int {
	n := 0
	for i := 0; i < m.NumBoards(); i++ {
		if !m.IsDead(i) {
			n++
		}
	}
	return n
}

func (m *Machine) valid() bool { return m != nil && m.Width > 0 && m.Height > 0 }

// tables returns the derived tables, computing them on first use.
func (m *Machine) tables() *prepared {
	m.once.Do(func() { m.prep = m.prepare() })
	return m.prep
}

func (m *Machine) prepare() *prepared {
	n := m.NumBoards()
	p := &prepared{
		n:        n,
		next:     make([][geometry.NumLinks]int32, n),
		wrap:     make([][geometry.NumLinks]geometry.Wrap, n),
		deadMask: make([]uint8, n),
		tx:       make([]int16, n),
		ty:       make([]int16, n),
		defect:   make([]bool, m.Width*m.Height),
		deadCnt:  make([]int32, m.Width*m.Height),
	}
	for i := 0; i < n; i++ {
		b := m.BoardAt(i)
		t := i / 3
		p.tx[i], p.ty[i] = int16(b.X), int16(b.Y)
		for _, l := range geometry.AllLinks {
			to, w := geometry.BoardDownLink(b, l, m.Width, m.Height)
			p.next[i][l] = int32(m.BoardIndex(to))
			p.wrap[i][l] = w
			if m.LinkDead(i, l) {
				p.defect[t] = true
				p.deadMask[i] |= 1 << l
			}
		}
		if m.IsDead(i) {
			p.defect[t] = true
			p.deadCnt[t]++
		}
	}
	p.freeH = defectFreeHeights(m.Width, m.Height, p.defect)
	return p
}

// defectFreeHeights returns, per width w, the greatest height of a block of
// w × h triads none of which is marked in defect (indexed y·W + x).
func defectFreeHeights(W, H int, defect []bool) []int {
	freeH := make([]int, W+1)
	run := make([]int, W) // per column: defect-free triads ending at row y
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			if defect[y*W+x] {
				run[x] = 0
			} else {
				run[x]++
			}
		}
		for x0 := 0; x0 < W; x0++ {
			h := H
			for x1 := x0; x1 < W && run[x1] > 0; x1++ {
				h = min(h, run[x1])
				freeH[x1-x0+1] = max(freeH[x1-x0+1], h)
			}
		}
	}
	return freeH
}
