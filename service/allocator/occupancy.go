package allocator

import "github.com/spalloc/spallocd/service/geometry"

// BoardUse is what a board is doing right now, as far as placement cares.
type BoardUse uint8

const (
	// Free: not in use (a dead board may be marked Free; Machine.Dead wins).
	Free BoardUse = iota
	// Unavailable: out of service (operator, failed power-on, BMP
	// unreachable). Treated exactly like a dead board by Place.
	Unavailable
	// HeldSingle: held by a single-board job.
	HeldSingle
	// HeldBlock: held by a job that got a block of triads.
	HeldBlock
	// Waiting: its job ended but the power-off (or free delay) is not done;
	// occupied, not free. Its triad counts as partly used (it is not empty,
	// so no block can take it; single boards may use its free boards).
	Waiting
)

// String names the use for logs and test failures.
func (u BoardUse) String() string {
	switch u {
	case Free:
		return "free"
	case Unavailable:
		return "unavailable"
	case HeldSingle:
		return "held-single"
	case HeldBlock:
		return "held-block"
	case Waiting:
		return "waiting"
	}
	return "BoardUse(?)"
}

// Occupancy is the current use of every board of one machine, indexed by
// Machine.BoardIndex. A nil or short Use slice means the missing boards are
// Free. It is a plain slice: copy it with Clone (at most 1,200 bytes).
type Occupancy struct {
	Use []BoardUse
}

// NewOccupancy returns an all-free occupancy for m.
func NewOccupancy(m *Machine) *Occupancy { return &Occupancy{Use: make([]BoardUse, m.NumBoards())} }

// Clone returns an independent copy.
func (o *Occupancy) Clone() *Occupancy {
	if o == nil {
		return &Occupancy{}
	}
	return &Occupancy{Use: append([]BoardUse(nil), o.Use...)}
}

// At returns the use of board index i (Free when out of range).
func (o *Occupancy) At(i int) BoardUse {
	if o == nil || i < 0 || i >= len(o.Use) {
		return Free
	}
	return o.Use[i]
}

// Set marks the given boards of m with use u, growing Use as needed. Boards
// outside m are ignored.
func (o *Occupancy) Set(m *Machine, boards []geometry.Board, u BoardUse) {
	if len(o.Use) < m.NumBoards() {
		o.Use = append(o.Use, make([]BoardUse, m.NumBoards()-len(o.Use))...)
	}
	for _, b := range boards {
		if b.InMachine(m.Width, m.Height) {
			o.Use[m.BoardIndex(b)] = u
		}
	}
}

// Hold marks an allocation's boards as held (HeldSingle or HeldBlock).
func (o *Occupancy) Hold(m *Machine, a Allocation) {
	u := HeldBlock
	if a.Single {
		u = HeldSingle
	}
	o.Set(m, a.Boards, u)
}

// Release marks an allocation's boards Free again.
func (o *Occupancy) Release(m *Machine, a Allocation) { o.Set(m, a.Boards, Free) }
