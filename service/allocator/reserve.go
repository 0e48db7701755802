package allocator

// Holding is one job that holds boards of the machine, as ChooseRegion
// counts it. Give one Holding per job.
type Holding struct {
	Region     // the job's triads: Allocation.Footprint
	Boards int // the boards it asked for: RequestedBoards
}

// RequestedBoards is what r asks for, in boards: n for create_job(n),
// 3·w·h for create_job(w, h), 1 for a single board.
func RequestedBoards(r Request) int {
	switch {
	case r.single():
		return 1
	case r.Kind == Rect:
		return 3 * r.W * r.H
	}
	return r.N
}

// ChooseRegion chooses the triads to reserve for r, the head of m's queue
// that cannot be placed now (issue 16, policy "reserve"): among every
// placement of r that is legal on the empty machine, the one that
// minimises, in this order, the number of jobs (of jobs) holding a triad
// of it, its triads that are not empty in occ (held, or waiting for a
// power-off), the sum of those jobs' requested boards, its area, y, x (and
// then shape order). Once the jobs it meets have ended, r fits there; while
// nothing else is let into it (PlaceAvoiding), r waits no longer than that.
//
// A request for the whole machine (require_torus, or no smaller shape)
// reserves the whole machine; a specific board its triad; a single board
// one triad with a working board. The result is false when r can never be
// placed on m. It costs O(shapes · (jobs + W·H)) plus the legality checks
// of the placements that beat the best so far: meant to run once per
// newly blocked head, not on every pass.
func ChooseRegion(m *Machine, occ *Occupancy, jobs []Holding, r Request) (Region, bool) {
	if !m.valid() || ValidateRequest(r) != nil {
		return Region{}, false
	}
	if r.Kind == SpecificBoard {
		if !Feasible(m, r) {
			return Region{}, false
		}
		return Region{X: r.Board.X, Y: r.Board.Y, W: 1, H: 1}, true
	}
	n := (m.Width + 1) * (m.Height + 1)
	c := regionChooser{m: m, r: r, jobs: clipHoldings(m, jobs), floor: make([]cost, n), floorOK: make([]bool, n)}
	c.used = getView(m, occ)
	defer putView(c.used)
	c.empty = getView(m, nil)
	defer putView(c.empty)
	if r.single() {
		c.consider(shape{w: 1, h: 1})
	} else {
		for group := range shapeGroups(m, r) {
			for _, s := range group {
				c.consider(s)
			}
		}
	}
	return c.best, c.found
}

// clipHoldings returns the holdings inside m, clipped to it, with requested
// boards limited to [0, 3·W·H] (no job on m can ask for more).
func clipHoldings(m *Machine, jobs []Holding) []Holding {
	out := make([]Holding, 0, len(jobs))
	for _, j := range jobs {
		if g := j.clip(m.Width, m.Height); !g.Empty() {
			out = append(out, Holding{Region: g, Boards: min(max(j.Boards, 0), m.NumBoards())})
		}
	}
	return out
}

// cost is the part of a region's key that grows with the region: jobs
// met, non-empty triads, requested boards of the jobs met. A block that
// contains another costs at least as much on every field.
type cost [3]int

func (a cost) compare(b cost) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// regionKey is what ChooseRegion minimises, field by field.
type regionKey struct {
	cost
	area, y, x, rank int
}

func (a regionKey) less(b regionKey) bool {
	if d := a.compare(b.cost); d != 0 {
		return d < 0
	}
	for _, d := range [...]int{a.area - b.area, a.y - b.y, a.x - b.x} {
		if d != 0 {
			return d < 0
		}
	}
	return a.rank < b.rank
}

// regionChooser keeps the best region found so far.
type regionChooser struct {
	m           *Machine
	r           Request
	jobs        []Holding
	used, empty *view // the machine now / when empty
	jobsAt      []int // per origin of the current shape: jobs met
	boardsAt    []int // ... and the sum of their requested boards
	// floor[w·(H+1)+h] is a lower bound of the cost of every w × h block
	// (and so of every block containing one), once a shape of that size
	// or a smaller one has been considered.
	floor   []cost
	floorOK []bool
	best    Region
	bestKey regionKey
	found   bool
}

// floorOf is the best known lower bound of the cost of any w × h block:
// the greater of those of the w-1 × h and w × h-1 blocks it contains.
func (c *regionChooser) floorOf(w, h int) (cost, bool) {
	var f cost
	ok := false
	for _, p := range [...][2]int{{w - 1, h}, {w, h - 1}} {
		if i := p[0]*(c.m.Height+1) + p[1]; p[0] > 0 && p[1] > 0 && c.floorOK[i] {
			if !ok || c.floor[i].compare(f) > 0 {
				f = c.floor[i]
			}
			ok = true
		}
	}
	return f, ok
}

// consider scores every origin of shape s and keeps the best legal one.
// The jobs a block at origin (x, y) meets are those whose region overlaps
// it: for each job, a rectangle of origins, added into a 2-D difference
// array, so one prefix-sum pass scores every origin. A shape whose cost
// floor already loses to the best region is skipped: shapes come in
// ascending area, so larger blocks of many jobs are never scored.
func (c *regionChooser) consider(s shape) {
	W, H := c.m.Width, c.m.Height
	floor, known := c.floorOf(s.w, s.h)
	fi := s.w*(H+1) + s.h
	if known && c.found {
		if d := floor.compare(c.bestKey.cost); d > 0 || (d == 0 && s.w*s.h > c.bestKey.area) {
			c.floor[fi], c.floorOK[fi] = floor, true
			return
		}
	}
	OW, OH := W-s.w+1, H-s.h+1 // origins
	c.jobsAt = grow(c.jobsAt, (OW+1)*(OH+1))
	c.boardsAt = grow(c.boardsAt, (OW+1)*(OH+1))
	clear(c.jobsAt)
	clear(c.boardsAt)
	for _, j := range c.jobs {
		x0, x1 := max(0, j.X-s.w+1), min(OW-1, j.X+j.W-1)
		y0, y1 := max(0, j.Y-s.h+1), min(OH-1, j.Y+j.H-1)
		if x0 > x1 || y0 > y1 {
			continue
		}
		for _, a := range [...]struct{ x, y, sign int }{{x0, y0, 1}, {x1 + 1, y0, -1}, {x0, y1 + 1, -1}, {x1 + 1, y1 + 1, 1}} {
			c.jobsAt[a.y*(OW+1)+a.x] += a.sign
			c.boardsAt[a.y*(OW+1)+a.x] += a.sign * j.Boards
		}
	}
	least, seen := cost{}, false
	for y := 0; y < OH; y++ {
		for x := 0; x < OW; x++ {
			i := y*(OW+1) + x
			if x > 0 {
				c.jobsAt[i] += c.jobsAt[i-1]
				c.boardsAt[i] += c.boardsAt[i-1]
			}
			if y > 0 {
				c.jobsAt[i] += c.jobsAt[i-OW-1]
				c.boardsAt[i] += c.boardsAt[i-OW-1]
			}
			if x > 0 && y > 0 {
				c.jobsAt[i] -= c.jobsAt[i-OW-2]
				c.boardsAt[i] -= c.boardsAt[i-OW-2]
			}
			key := regionKey{cost: cost{c.jobsAt[i], int(c.used.sum(c.used.occPS, x, y, s.w, s.h)), c.boardsAt[i]},
				area: s.w * s.h, y: y, x: x, rank: s.rank}
			if !seen || key.compare(least) < 0 {
				least, seen = key.cost, true
			}
			if (!c.found || key.less(c.bestKey)) && c.legal(s, x, y) {
				c.best, c.bestKey, c.found = Region{X: x, Y: y, W: s.w, H: s.h}, key, true
			}
		}
	}
	if known && floor.compare(least) > 0 {
		least = floor
	}
	c.floor[fi], c.floorOK[fi] = least, true
}

// legal reports whether r may be placed at the origin on the empty machine.
func (c *regionChooser) legal(s shape, x, y int) bool {
	if c.r.single() {
		return c.m.tables().deadCnt[y*c.m.Width+x] < 3
	}
	_, ok := c.empty.legal(x, y, s.w, s.h, c.r, true)
	return ok
}
