package allocator

import (
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// A Pass answers every question exactly as OpeningsOf and PlaceAvoiding do
// on the same occupancy and region, whatever it was asked before (its
// questions share one view).
func TestPassAnswersAsTheSingleCalls(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMachine(t)
		occ := NewOccupancy(m)
		for i := rapid.IntRange(0, 10).Draw(t, "jobs"); i > 0; i-- {
			if a, ok := Place(m, occ, genRequest(t, m)); ok {
				occ.Hold(m, a)
			}
		}
		forbid := rg(rapid.IntRange(-1, m.Width).Draw(t, "fx"), rapid.IntRange(-1, m.Height).Draw(t, "fy"),
			rapid.IntRange(0, m.Width).Draw(t, "fw"), rapid.IntRange(0, m.Height).Draw(t, "fh"))
		p := NewPass(m, occ, forbid)
		defer p.Close()
		if got, want := p.Openings(), OpeningsOf(m, occ, forbid); !reflect.DeepEqual(got, want) {
			t.Fatalf("Pass.Openings() = %+v, OpeningsOf = %+v", got, want)
		}
		for i := 0; i < 8; i++ {
			r := genRequest(t, m)
			got, ok := p.Place(r)
			want, wantOK := PlaceAvoiding(m, occ, r, forbid)
			if ok != wantOK || !reflect.DeepEqual(got, want) {
				t.Fatalf("request %d, %s: Pass.Place = %v %+v; PlaceAvoiding = %v %+v", i, name(r), ok, got, wantOK, want)
			}
		}
	})
}
