package allocator

import (
	"iter"
	"slices"
)

// shape is a candidate block size; rank orders shapes of equal area
// (lower first).
type shape struct{ w, h, rank int }

// ratioOK reports whether a w × h block meets ratio r (already folded into
// [0, 1]).
func ratioOK(w, h int, r float64) bool {
	return float64(min(w, h))/float64(max(w, h)) >= r
}

// shapeGroups yields the block sizes a block request may use on m, one group
// per area, smallest area first. Consumers usually stop at the first group.
//
//   - Rect: exactly W × H (the whole machine only, with RequireTorus).
//   - NBoards with RequireTorus: the whole machine, only if it has exactly
//     ceil(n/3) triads and meets the ratio (ALLOC-09).
//   - NBoards: every w × h inside the machine with w·h >= ceil(n/3) and
//     min/max >= min_ratio. Larger shapes stay candidates because dead
//     boards are counted against n, so a larger block may be legal where a
//     smaller one is not; trying all of them keeps Place and Feasible in
//     agreement (a job is queued only if some shape fits the empty machine,
//     and Place tries the same shapes, so it cannot block its queue for
//     ever). Within one area the area_to_rect shape comes first, then its
//     rotation, then squarer shapes, landscape before portrait. The ratio is
//     guaranteed: unlike the original, a ratio rectangle that falls short of
//     min_ratio (AR-03) is not used.
func shapeGroups(m *Machine, r Request) iter.Seq[[]shape] {
	return func(yield func([]shape) bool) {
		W, H := m.Width, m.Height
		switch r.Kind {
		case Rect:
			if r.W <= 0 || r.H <= 0 || r.W > W || r.H > H || (r.RequireTorus && (r.W != W || r.H != H)) {
				return
			}
			yield([]shape{{w: r.W, h: r.H}})
			return
		case NBoards:
		default:
			return
		}
		t, ratio := r.triads(), r.ratio()
		if t <= 0 || t > W*H {
			return
		}
		if r.RequireTorus {
			if t == W*H && ratioOK(W, H, ratio) {
				yield([]shape{{w: W, h: H}})
			}
			return
		}
		arW, arH, arOK, _ := AreaToRect(t, W, H, r.MinRatio)
		group := make([]shape, 0, W)
		for area := t; area <= W*H; area++ {
			group = group[:0]
			for w := 1; w <= W; w++ {
				h := area / w
				if area%w != 0 || h > H || !ratioOK(w, h, ratio) {
					continue
				}
				rank := 3
				switch {
				case arOK && w == arW && h == arH:
					rank = 0
				case arOK && w == arH && h == arW:
					rank = 1
				}
				group = append(group, shape{w: w, h: h, rank: rank})
			}
			if len(group) == 0 {
				continue
			}
			slices.SortFunc(group, compareShapes)
			for i := range group {
				group[i].rank = i
			}
			if !yield(group) {
				return
			}
		}
	}
}

// compareShapes orders shapes of one area: area_to_rect's first, then its
// rotation, then squarer, then landscape.
func compareShapes(a, b shape) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	if da, db := abs(a.w-a.h), abs(b.w-b.h); da != db {
		return da - db
	}
	return b.w - a.w
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
