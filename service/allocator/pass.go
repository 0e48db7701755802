package allocator

// Pass asks several questions of one occupancy of a machine outside one
// forbidden region (a scheduler trying the jobs behind a reservation): the
// view they all need is built once instead of once per question. The
// occupancy must not change while the Pass is open; Close returns the view.
type Pass struct {
	m   *Machine
	occ *Occupancy
	v   *view // nil when m is not valid
}

// NewPass prepares questions about m under occ, outside forbid.
func NewPass(m *Machine, occ *Occupancy, forbid Region) *Pass {
	p := &Pass{m: m, occ: occ}
	if m.valid() {
		p.v = getView(m, occ)
		p.v.reserve(forbid)
	}
	return p
}

// Openings is OpeningsOf(m, occ, forbid).
func (p *Pass) Openings() Openings {
	if p.v == nil {
		return Openings{}
	}
	return openingsIn(p.v, p.occ)
}

// Place is PlaceAvoiding(m, occ, r, forbid).
func (p *Pass) Place(r Request) (Allocation, bool) {
	if p.v == nil || ValidateRequest(r) != nil {
		return Allocation{}, false
	}
	return DefaultPolicy.placeIn(p.v, p.occ, r)
}

// Close returns the view to the pool; the Pass answers nothing after it.
func (p *Pass) Close() {
	if p.v != nil {
		putView(p.v)
		p.v = nil
	}
}
