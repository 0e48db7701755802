package allocator

import (
	"testing"

	"pgregory.net/rapid"
)

// Openings never rule out a request that PlaceAvoiding would place, on
// random machines, fills and forbidden regions; and they rule out what
// cannot fit for want of room.
func TestOpeningsNeverRuleOutAPlacement(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, occ := genFilled(t, 12)
		for i := rapid.IntRange(0, 3).Draw(t, "waiting"); i > 0; i-- {
			if k := rapid.IntRange(0, m.NumBoards()-1).Draw(t, "board"); occ.Use[k] == Free {
				occ.Use[k] = rapid.SampledFrom([]BoardUse{Waiting, Unavailable}).Draw(t, "use")
			}
		}
		forbid := Region{}
		if rapid.Bool().Draw(t, "forbid") {
			forbid = rg(rapid.IntRange(0, m.Width-1).Draw(t, "fx"), rapid.IntRange(0, m.Height-1).Draw(t, "fy"),
				rapid.IntRange(1, m.Width).Draw(t, "fw"), rapid.IntRange(1, m.Height).Draw(t, "fh"))
		}
		o := OpeningsOf(m, occ, forbid)
		for i := 0; i < 8; i++ {
			r := genRequest(t, m)
			if _, ok := PlaceAvoiding(m, occ, r, forbid); ok && !o.MayFit(m, r) {
				t.Fatalf("Openings rule out %s, which PlaceAvoiding places (forbidden %v)", name(r), forbid)
			}
		}
	})
}

func TestOpeningsRuleOutWhatHasNoRoom(t *testing.T) {
	m := mustMachine(t, 4, 2, nil)
	occ := NewOccupancy(m)
	a, _ := Place(m, occ, RectRequest(2, 2)) // half the machine
	occ.Hold(m, a)
	o := OpeningsOf(m, occ, Region{})
	for _, tc := range []struct {
		r    Request
		want bool
	}{
		{RectRequest(2, 2), true},
		{RectRequest(3, 1), false},
		{RectRequest(1, 2), true},
		{NBoardsRequest(12), true},
		{NBoardsRequest(13), false},
		{withRatio(NBoardsRequest(6), 1), true},   // 1x1... 2x2 squares only
		{withRatio(NBoardsRequest(13), 1), false}, // 3x3 does not fit
		{OneBoardRequest(), true},
		{SpecificBoardRequest(bd(0, 0, 0)), true}, // Place decides
	} {
		if got := o.MayFit(m, tc.r); got != tc.want {
			t.Errorf("MayFit(%s) = %v, want %v", name(tc.r), got, tc.want)
		}
	}
	// The other half reserved: nothing but a specific board may fit.
	o = OpeningsOf(m, occ, Region{X: 2, Y: 0, W: 2, H: 2})
	for _, r := range []Request{RectRequest(1, 1), NBoardsRequest(2), OneBoardRequest()} {
		if o.MayFit(m, r) {
			t.Errorf("MayFit(%s) = true with every free triad reserved", name(r))
		}
	}
}

func withRatio(r Request, ratio float64) Request {
	r.MinRatio = ratio
	return r
}
