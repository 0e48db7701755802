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
		m, occ := genFilled(t, 10)
		forbid := genRegion(t, m)
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
