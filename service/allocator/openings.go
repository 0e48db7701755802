package allocator

// Openings says cheaply which requests certainly do not fit a machine now,
// so that a scheduler trying many requests against one occupancy (the
// jobs behind a reservation) calls Place only for those that might.

// Openings is a summary of the free space of a machine under one
// occupancy, outside one forbidden region: per block width w, the tallest
// block of that width whose triads are all empty (and not forbidden); and
// whether a single board could go anywhere. Place and PlaceAvoiding use
// only open blocks, so a block request none of whose shapes fits under
// these heights does not fit. It costs about as much as one Place.
type Openings struct {
	tall    []int // tall[w] for w = 1..W (tall[0] unused)
	singles bool  // a free working board lies in a triad that takes single boards
}

// OpeningsOf summarises m's free space under occ, outside forbid.
func OpeningsOf(m *Machine, occ *Occupancy, forbid Region) Openings {
	if !m.valid() {
		return Openings{}
	}
	v := getView(m, occ)
	defer putView(v)
	v.reserve(forbid)
	return openingsIn(v, occ)
}

// openingsIn summarises the free space of a prepared view of occ.
func openingsIn(v *view, occ *Occupancy) Openings {
	W, H := v.W, v.H
	o := Openings{tall: make([]int, W+1)}
	run := v.heights[:W] // per column: empty triads ending at row y
	clear(run)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			t := y*W + x
			if v.class[t] == triadEmpty {
				run[x]++
			} else {
				run[x] = 0
			}
			if v.class[t].takesSingles() && !o.singles {
				for i := 3 * t; i < 3*t+3; i++ {
					o.singles = o.singles || (!v.blocked[i] && occ.At(i) == Free)
				}
			}
		}
		for x0 := 0; x0 < W; x0++ {
			h := H
			for x1 := x0; x1 < W && run[x1] > 0; x1++ {
				h = min(h, run[x1])
				o.tall[x1-x0+1] = max(o.tall[x1-x0+1], h)
			}
		}
	}
	return o
}

// MayFit reports whether r might be placed (by Place, or PlaceAvoiding
// with the region the Openings were made with); false means it certainly
// cannot. A request for a specific board always might: Place answers it
// in constant time.
func (o Openings) MayFit(m *Machine, r Request) bool {
	switch {
	case !m.valid() || len(o.tall) != m.Width+1 || ValidateRequest(r) != nil:
		return false
	case r.Kind == SpecificBoard:
		return true
	case r.single():
		return o.singles
	case r.Kind == Rect || r.RequireTorus:
		for group := range shapeGroups(m, r) { // one shape at most
			for _, s := range group {
				if s.h <= o.tall[s.w] {
					return true
				}
			}
		}
		return false
	}
	// NBoards: shapes w × h with w·h >= the triads asked for, within the
	// machine and the ratio (shapeGroups' rule, without listing them).
	t, ratio := r.triads(), r.ratio()
	for w := 1; w <= m.Width; w++ {
		for h := max((t+w-1)/w, 1); h <= o.tall[w]; h++ {
			if ratioOK(w, h, ratio) {
				return true
			}
		}
	}
	return false
}
