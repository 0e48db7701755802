package allocator

import "sort"

// shape is a candidate block size; rank orders shapes of equal area
// (lower first).
type shape struct{ w, h, rank int }

// ratioOK reports whether a w × h block meets ratio r (already folded into
// [0, 1]).
func ratioOK(w, h int, r float64) bool {
	return float64(min(w, h))/float64(max(w, h)) >= r
}

// blockShapes lists the block sizes a block request may use on m, smallest
// area first.
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
//     rotation, then squarer shapes. The ratio is guaranteed: unlike the
//     original, a ratio rectangle that falls short of min_ratio (AR-03) is
//     not used.
func blockShapes(m *Machine, r Request) []shape {
	W, H := m.Width, m.Height
	switch r.Kind {
	case Rect:
		if r.W <= 0 || r.H <= 0 || r.W > W || r.H > H {
			return nil
		}
		if r.RequireTorus && (r.W != W || r.H != H) {
			return nil
		}
		return []shape{{w: r.W, h: r.H}}
	case NBoards:
	default:
		return nil
	}
	t, ratio := r.triads(), r.ratio()
	if t <= 0 || t > W*H {
		return nil
	}
	if r.RequireTorus {
		if t != W*H || !ratioOK(W, H, ratio) {
			return nil
		}
		return []shape{{w: W, h: H}}
	}
	arW, arH, arOK, _ := AreaToRect(t, W, H, r.MinRatio)
	var out []shape
	for w := 1; w <= W; w++ {
		for h := max(1, ceilDiv(t, w)); h <= H; h++ {
			if !ratioOK(w, h, ratio) {
				continue
			}
			rank := 3
			switch {
			case arOK && w == arW && h == arH:
				rank = 0
			case arOK && w == arH && h == arW:
				rank = 1
			}
			out = append(out, shape{w: w, h: h, rank: rank})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.w*a.h != b.w*b.h {
			return a.w*a.h < b.w*b.h
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		// Squarer first, then landscape before portrait.
		da, db := abs(a.w-a.h), abs(b.w-b.h)
		if da != db {
			return da < db
		}
		return a.w > b.w
	})
	for i := range out {
		out[i].rank = i
	}
	return out
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
