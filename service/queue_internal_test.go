package service

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

func TestSortedDiff(t *testing.T) {
	tests := []struct {
		before, after, added, removed []int64
	}{
		{nil, nil, nil, nil},
		{nil, []int64{1, 2}, []int64{1, 2}, nil},
		{[]int64{1, 2}, nil, nil, []int64{1, 2}},
		{[]int64{1, 3, 5}, []int64{1, 3, 5}, nil, nil},
		{[]int64{1, 3, 5}, []int64{2, 3, 6}, []int64{2, 6}, []int64{1, 5}},
		{[]int64{4}, []int64{1, 2, 3, 4, 9}, []int64{1, 2, 3, 9}, nil},
	}
	for _, tc := range tests {
		added, removed := sortedDiff(tc.before, tc.after)
		if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
			t.Errorf("sortedDiff(%v, %v) = %v, %v; want %v, %v", tc.before, tc.after, added, removed, tc.added, tc.removed)
		}
	}
}

// A change of a board's use that gainsRoom calls no gain never lets a
// placement succeed that failed before (reserve-policy hints rely on it),
// on random machines, fills, regions and requests.
func TestNoGainNeverMakesRoom(t *testing.T) {
	uses := []allocator.BoardUse{allocator.Free, allocator.Unavailable, allocator.HeldSingle, allocator.HeldBlock, allocator.Waiting}
	rapid.Check(t, func(rt *rapid.T) {
		w, h := rapid.IntRange(1, 4).Draw(rt, "w"), rapid.IntRange(1, 3).Draw(rt, "h")
		var dead []geometry.Board
		for i := range 3 * w * h {
			if rapid.IntRange(0, 9).Draw(rt, "dead") == 0 {
				dead = append(dead, geometry.Board{X: i / 3 % w, Y: i / 3 / w, Z: i % 3})
			}
		}
		m, err := allocator.NewMachine(w, h, dead, nil)
		if err != nil {
			rt.Fatal(err)
		}
		occ := allocator.NewOccupancy(m)
		for i := range occ.Use {
			occ.Use[i] = rapid.SampledFrom(uses).Draw(rt, "use")
		}
		region := allocator.Region{X: rapid.IntRange(0, w).Draw(rt, "rx"), Y: rapid.IntRange(0, h).Draw(rt, "ry"),
			W: rapid.IntRange(0, w).Draw(rt, "rw"), H: rapid.IntRange(0, h).Draw(rt, "rh")}
		var r allocator.Request
		switch rapid.IntRange(0, 3).Draw(rt, "kind") {
		case 0:
			r = allocator.OneBoardRequest()
		case 1:
			r = allocator.NBoardsRequest(rapid.IntRange(2, 3*w*h).Draw(rt, "n"))
		case 2:
			r = allocator.RectRequest(rapid.IntRange(1, w).Draw(rt, "rw"), rapid.IntRange(1, h).Draw(rt, "rh"))
		default:
			r = allocator.SpecificBoardRequest(geometry.Board{X: rapid.IntRange(0, w-1).Draw(rt, "bx"),
				Y: rapid.IntRange(0, h-1).Draw(rt, "by"), Z: rapid.IntRange(0, 2).Draw(rt, "bz")})
		}
		if _, ok := allocator.PlaceAvoiding(m, occ, r, region); ok {
			return
		}
		i := rapid.IntRange(0, len(occ.Use)-1).Draw(rt, "board")
		now := rapid.SampledFrom(uses).Draw(rt, "now")
		if gainsRoom(occ.Use[i], now) {
			return
		}
		was := occ.Use[i]
		occ.Use[i] = now
		if _, ok := allocator.PlaceAvoiding(m, occ, r, region); ok {
			rt.Fatalf("board %d from %v to %v (no gain) lets %+v fit beside %v", i, was, now, r, region)
		}
	})
}
