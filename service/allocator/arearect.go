package allocator

import "math"

// AreaToRect chooses the block shape of the original server for t triads in
// bounds wb × hb with minimum aspect ratio (AR-01..AR-11,
// spalloc_server's area_to_rect): the squarest rectangle of exactly t, or a
// larger "ratio rectangle" when that is too thin, turned to portrait in
// landscape bounds, squeezed into the bounds if needed. ok is false when no
// shape is possible. Non-positive sizes and negative ratios are errors with
// the user-visible messages.
//
// Like the original, the ratio rectangle does not always meet the ratio
// (t = 5, r = 0.75 gives 3×2). Placement does not rely on this function for
// legality: it uses every shape that meets the ratio (see Place).
func AreaToRect(t, wb, hb int, ratio float64) (w, h int, ok bool, err error) {
	if t <= 0 || wb <= 0 || hb <= 0 {
		return 0, 0, false, ErrNonPositiveSize
	}
	if ratio < 0 {
		return 0, 0, false, ErrNegativeRatio
	}
	if t > wb*hb {
		return 0, 0, false, nil
	}
	if ratio > 1 {
		ratio = 1 / ratio
	}
	w, h = squarestRectangle(t)
	if float64(h)/float64(w) < ratio {
		w, h = rectangleWithAspectRatio(t, ratio)
	}
	// Take the orientation opposite to the bounds so the largest free strip
	// stays.
	if wb > hb && w > h {
		w, h = h, w
	}
	if w <= wb && h <= hb {
		return w, h, true, nil
	}
	if w > wb {
		w = wb
		h = ceilDiv(t, w)
	} else {
		h = hb
		w = ceilDiv(t, h)
	}
	if float64(min(w, h))/float64(max(w, h)) >= ratio {
		return w, h, true, nil
	}
	return 0, 0, false, nil
}

// squarestRectangle returns w × h = t with h the largest divisor of t not
// above √t (landscape or square); 0×0 for t <= 0.
func squarestRectangle(t int) (w, h int) {
	if t <= 0 {
		return 0, 0
	}
	for h = int(math.Sqrt(float64(t))); h > 1; h-- {
		if t%h == 0 {
			break
		}
	}
	if h < 1 {
		h = 1
	}
	return t / h, h
}

// rectangleWithAspectRatio returns a landscape rectangle of at least t cells
// aiming at ratio h/w (0 < ratio <= 1), the original's formula exactly.
func rectangleWithAspectRatio(t int, ratio float64) (w, h int) {
	if t <= 0 {
		return 0, 0
	}
	fw := math.Sqrt(float64(t) / ratio)
	h = int(math.Ceil(float64(t) / fw))
	w = int(math.Ceil(float64(t) / float64(h)))
	return max(w, h), h
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
