package allocator

import "fmt"

// Why explains, in one sentence for operators, why r cannot be placed on m
// right now; it returns "" when Place would succeed. It follows the same
// rules as Place and Feasible (docs/scheduling.md: every queued job shows
// why it waits).
func Why(m *Machine, occ *Occupancy, r Request) string {
	if !m.valid() {
		return "the machine has no boards"
	}
	if err := ValidateRequest(r); err != nil {
		return err.Error()
	}
	if _, ok := Place(m, occ, r); ok {
		return ""
	}
	if !Feasible(m, r) {
		return "no placement on this machine can ever satisfy the request"
	}
	v := getView(m, occ)
	defer putView(v)
	switch {
	case r.Kind == SpecificBoard:
		i := m.BoardIndex(r.Board)
		switch u := occ.At(i); {
		case u == Unavailable:
			return fmt.Sprintf("board %v is out of service", r.Board)
		case u != Free:
			return fmt.Sprintf("board %v is in use (%v)", r.Board, u)
		}
		return fmt.Sprintf("board %v is in a triad held by a block job", r.Board)
	case r.single():
		return "every working board is in use or in a triad held by a block job"
	}
	opens := 0
	for group := range shapeGroups(m, r) {
		for _, s := range group {
			for y := 0; y+s.h <= m.Height; y++ {
				for x := 0; x+s.w <= m.Width; x++ {
					if v.open(x, y, s.w, s.h) {
						opens++
					}
				}
			}
		}
	}
	short := ""
	if r.Kind == NBoards {
		if most := MostBoards(m, r); most < r.N {
			short = fmt.Sprintf("the machine can never offer %d working, connected boards, it waits for the most it can: %d; ", r.N, most)
		}
	}
	if opens == 0 {
		return fmt.Sprintf("%sno free region of %s", short, describeShape(m, r))
	}
	regions := "free regions"
	if opens == 1 {
		regions = "free region"
	}
	return fmt.Sprintf("%s%d %s of %s, none with enough working, connected boards and links (max_dead_boards %s, max_dead_links %s)",
		short, opens, regions, describeShape(m, r), limit(r.MaxDeadBoards), limit(r.MaxDeadLinks))
}

func describeShape(m *Machine, r Request) string {
	switch {
	case r.Kind == Rect:
		return fmt.Sprintf("%d×%d triads", r.W, r.H)
	case r.RequireTorus:
		return fmt.Sprintf("the whole machine (%d×%d triads)", m.Width, m.Height)
	case r.ratio() > 0:
		return fmt.Sprintf("at least %d triads with aspect ratio %.3g or squarer", r.triads(), r.ratio())
	}
	return fmt.Sprintf("at least %d triads", r.triads())
}

func limit(n int) string {
	if n == Unlimited {
		return "unlimited"
	}
	return fmt.Sprint(n)
}
