package allocator

import (
	"math/rand"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

// prodMachine is the 20×20-triad (1,200-board) machine of the production
// traces, with their dead boards and links.
func prodMachine(tb testing.TB) *Machine {
	dead := []B{bd(5, 18, 2), bd(9, 2, 0), bd(12, 9, 0), bd(15, 12, 0), bd(19, 12, 0)}
	links := []BoardLink{
		dl(0, 2, 1, W), dl(0, 2, 2, E), dl(3, 1, 1, NE), dl(4, 1, 2, SW),
		dl(6, 16, 2, N), dl(6, 17, 1, S), dl(9, 18, 0, N), dl(9, 18, 2, S),
		dl(11, 6, 2, N), dl(11, 7, 1, S), dl(11, 19, 2, NE), dl(12, 0, 0, SW),
		dl(13, 6, 2, N), dl(13, 7, 1, S), dl(18, 3, 2, NE), dl(19, 4, 0, SW),
	}
	return mustMachine(tb, 20, 20, dead, links...)
}

// traceLikeRequest draws from a mix resembling the production traces:
// mostly single boards and small n-board jobs, some blocks.
func traceLikeRequest(rng *rand.Rand) Request {
	var r Request
	switch k := rng.Intn(100); {
	case k < 45:
		r = OneBoardRequest()
	case k < 85:
		ns := []int{2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 30, 36, 48, 96, 120, 144}
		r = NBoardsRequest(ns[rng.Intn(len(ns))])
		r.MinRatio = 0.333
	default:
		s := rng.Intn(5) + 1
		r = RectRequest(s, max(1, s-rng.Intn(2)))
	}
	r.MaxDeadBoards = 0
	return r
}

// fill places trace-like jobs, freeing random ones now and then, until the
// machine holds at least the given fraction of its boards.
func fill(tb testing.TB, m *Machine, fraction float64, seed int64) *Occupancy {
	occ, _ := fillJobs(m, fraction, seed)
	return occ
}

// fillJobs is fill that also returns the live jobs.
func fillJobs(m *Machine, fraction float64, seed int64) (*Occupancy, []Holding) {
	rng := rand.New(rand.NewSource(seed))
	occ := NewOccupancy(m)
	var live []Allocation
	var jobs []Holding
	held := 0
	for tries := 0; held < int(fraction*float64(m.NumBoards())) && tries < 100000; tries++ {
		if len(live) > 0 && rng.Intn(4) == 0 {
			k := rng.Intn(len(live))
			occ.Release(m, live[k])
			held -= len(live[k].Boards)
			live = append(live[:k], live[k+1:]...)
			jobs = append(jobs[:k], jobs[k+1:]...)
			continue
		}
		r := traceLikeRequest(rng)
		if a, ok := Place(m, occ, r); ok {
			occ.Hold(m, a)
			live = append(live, a)
			jobs = append(jobs, Holding{Region: a.Footprint(), Boards: RequestedBoards(r)})
			held += len(a.Boards)
		}
	}
	return occ, jobs
}

func benchPlace(b *testing.B, m *Machine, occ *Occupancy, r Request, wantOK bool) {
	b.Helper()
	if _, ok := Place(m, occ, r); ok != wantOK {
		b.Fatalf("Place(%s) = %v, want %v", name(r), ok, wantOK)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Place(m, occ, r)
	}
}

func ratioReq(r Request) Request { r.MinRatio, r.MaxDeadBoards = 0.333, 0; return r }

func BenchmarkPlaceEmpty(b *testing.B) {
	m := prodMachine(b)
	occ := NewOccupancy(m)
	b.Run("one-board", func(b *testing.B) { benchPlace(b, m, occ, OneBoardRequest(), true) })
	b.Run("n=48", func(b *testing.B) { benchPlace(b, m, occ, ratioReq(NBoardsRequest(48)), true) })
	b.Run("rect-5x5", func(b *testing.B) { benchPlace(b, m, occ, mdb(RectRequest(5, 5), 0), true) })
	b.Run("whole-torus", func(b *testing.B) { benchPlace(b, m, occ, torus(RectRequest(20, 20)), true) })
}

func BenchmarkPlaceFragmented(b *testing.B) {
	m := prodMachine(b)
	occ := fill(b, m, 0.5, 1)
	b.Run("one-board", func(b *testing.B) { benchPlace(b, m, occ, OneBoardRequest(), true) })
	b.Run("n=24", func(b *testing.B) { benchPlace(b, m, occ, ratioReq(NBoardsRequest(24)), true) })
	b.Run("rect-3x3", func(b *testing.B) { benchPlace(b, m, occ, mdb(RectRequest(3, 3), 0), true) })
}

func BenchmarkPlaceNearlyFull(b *testing.B) {
	m := prodMachine(b)
	occ := fill(b, m, 0.95, 2)
	b.Run("one-board", func(b *testing.B) { benchPlace(b, m, occ, OneBoardRequest(), true) })
	// Nothing of 48 boards fits: every shape is scanned (the queue-head
	// case of a busy machine).
	b.Run("n=48-no-fit", func(b *testing.B) { benchPlace(b, m, occ, ratioReq(NBoardsRequest(48)), false) })
	b.Run("n=2-any-shape", func(b *testing.B) {
		r := NBoardsRequest(2)
		_, ok := Place(m, occ, r)
		benchPlace(b, m, occ, r, ok)
	})
}

// The reservation rule: placing behind a reserved region, and choosing the
// region of a newly blocked head (once per head, not per pass).
func BenchmarkReserve(b *testing.B) {
	m := prodMachine(b)
	occ, jobs := fillJobs(m, 0.95, 2)
	region := Region{X: 4, Y: 4, W: 4, H: 4}
	b.Run("place-avoiding-one-board", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			PlaceAvoiding(m, occ, OneBoardRequest(), region)
		}
	})
	b.Run("place-avoiding-n=2", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			PlaceAvoiding(m, occ, NBoardsRequest(2), region)
		}
	})
	for _, c := range []struct {
		label string
		r     Request
	}{
		{"choose-region-n=48", ratioReq(NBoardsRequest(48))},
		{"choose-region-n=6-any-shape", NBoardsRequest(6)},
		{"choose-region-rect-5x5", mdb(RectRequest(5, 5), 0)},
		{"choose-region-one-board", OneBoardRequest()},
	} {
		b.Run(c.label, func(b *testing.B) {
			if _, ok := ChooseRegion(m, occ, jobs, c.r); !ok {
				b.Fatalf("no region for %s", name(c.r))
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ChooseRegion(m, occ, jobs, c.r)
			}
		})
	}
}

func BenchmarkFeasible(b *testing.B) {
	m := prodMachine(b)
	for _, c := range []struct {
		label string
		r     Request
	}{
		{"n=48", ratioReq(NBoardsRequest(48))},
		{"n=1200-mdb0-impossible", mdb(NBoardsRequest(1200), 0)},
		{"rect-20x20-mdb0-impossible", mdb(RectRequest(20, 20), 0)},
		{"n=6-mdl0", Request{Kind: NBoards, N: 6, MaxDeadBoards: 0, MaxDeadLinks: 0}},
	} {
		b.Run(c.label, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				Feasible(m, c.r)
			}
		})
	}
}

// The fill used by the benchmarks reaches its target and stays legal.
func TestFillIsLegal(t *testing.T) {
	m := prodMachine(t)
	occ := fill(t, m, 0.95, 2)
	held := 0
	for _, u := range occ.Use {
		if u != Free {
			held++
		}
	}
	if held < 1100 {
		t.Fatalf("only %d boards held", held)
	}
	_ = geometry.WrapNone
}
