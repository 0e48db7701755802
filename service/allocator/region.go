package allocator

import "fmt"

// Region is a rectangle of triads: bottom-left (X, Y), W × H triads. The
// zero Region is empty. It names a block placement, a reservation, or the
// footprint of a running job.
type Region struct{ X, Y, W, H int }

// Empty reports whether the region holds no triad.
func (g Region) Empty() bool { return g.W <= 0 || g.H <= 0 }

// String is "x,y w×h", as waiting reasons show a reserved region.
func (g Region) String() string { return fmt.Sprintf("%d,%d %d×%d", g.X, g.Y, g.W, g.H) }

// clip returns the part of g inside a W × H machine (empty if none).
func (g Region) clip(W, H int) Region {
	if g.Empty() {
		return Region{}
	}
	x0, y0 := max(g.X, 0), max(g.Y, 0)
	x1, y1 := min(g.X+g.W, W), min(g.Y+g.H, H)
	if x0 >= x1 || y0 >= y1 {
		return Region{}
	}
	return Region{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// Footprint is the region of triads an allocation keeps from others: its
// block, or a single board's triad.
func (a Allocation) Footprint() Region {
	if a.Single {
		return Region{X: a.X0, Y: a.Y0, W: 1, H: 1}
	}
	return Region{X: a.X0, Y: a.Y0, W: a.W, H: a.H}
}
