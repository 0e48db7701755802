package replay

import (
	"math"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// twoTriads is a 2 x 1-triad machine with board (1, 0, 2) dead: C = 5.
func twoTriads() *Machines {
	return &Machines{Path: "two.json", Machines: []Machine{{
		Name: "two", Width: 2, Height: 1, DeadBoards: []geometry.Board{{X: 1, Y: 0, Z: 2}},
	}}}
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestComputeMetricsByHand checks every metric on outcomes small enough to
// work out on paper:
//
//	job  arrival  asks        allocated  wait  duration  end  handed  held triads
//	1    0 s      1 board     0 s        0     10 s      10   1       (0,0)
//	2    1 s      4 boards    10 s       9     5 s       15   5       (0,0),(1,0)
//	3    2 s      1 board     15 s       13    5 s       20   1       (0,0)
//	4    3 s      1 board     15 s       12    1 s       16   1       (0,0) shared with 3
//	5    4 s      rejected
//
// waits sorted 0, 9, 12, 13: mean 8.5, median (rank 2) 9, p95 (rank 4)
// 13, max 13. Makespan 20 s; C * makespan = 100 board-s. Requested 1*10 +
// 4*5 + 1*5 + 1*1 = 36; handed 1*10 + 5*5 + 1*5 + 1*1 = 41; held 3*10
// (triad (0,0)) + 5*5 (both triads, 5 working boards) + 3*5 (triad (0,0)
// once for jobs 3 and 4) = 70.
func TestComputeMetricsByHand(t *testing.T) {
	ms := twoTriads()
	jobs := []Job{
		{ID: 1, Arrival: 0, Form: FormNone, Duration: 10000},
		{ID: 2, Arrival: 1000, Form: FormBoards, V: [3]int{4}, Duration: 5000},
		{ID: 3, Arrival: 2000, Form: FormNone, Duration: 5000},
		{ID: 4, Arrival: 3000, Form: FormBoard, Duration: 1000},
		{ID: 5, Arrival: 4000, Form: FormBoards, V: [3]int{60}, Duration: 1000},
	}
	t00, t10 := TriadKey{0, 0, 0}, TriadKey{0, 1, 0}
	out := []Outcome{
		{Job: &jobs[0], Allocated: true, AllocAt: 0, Requested: 1, Handed: 1, Held: []TriadKey{t00}},
		{Job: &jobs[1], Allocated: true, AllocAt: 10000, Requested: 4, Handed: 5, Held: []TriadKey{t00, t10}},
		{Job: &jobs[2], Allocated: true, AllocAt: 15000, Requested: 1, Handed: 1, Held: []TriadKey{t00}},
		{Job: &jobs[3], Allocated: true, AllocAt: 15000, Requested: 1, Handed: 1, Held: []TriadKey{t00}},
		{Job: &jobs[4], Rejected: true},
	}
	us := time.Microsecond
	timing := Timing{
		Create:  []time.Duration{3 * us, 1 * us, 2 * us, 5 * us, 4 * us},
		Destroy: []time.Duration{20 * us, 10 * us},
		Wall:    2 * time.Second,
	}
	m := ComputeMetrics(out, ms, timing)

	if m.Jobs != 5 || m.Allocated != 4 || m.Rejected != 1 || len(m.RejectedIDs) != 1 || m.RejectedIDs[0] != 5 {
		t.Errorf("jobs/allocated/rejected = %d/%d/%d %v, want 5/4/1 [5]", m.Jobs, m.Allocated, m.Rejected, m.RejectedIDs)
	}
	approx(t, "wait mean", m.WaitMean, 8.5)
	approx(t, "wait median", m.WaitMedian, 9)
	approx(t, "wait p95", m.WaitP95, 13)
	approx(t, "wait max", m.WaitMax, 13)
	approx(t, "makespan", m.Makespan, 20)
	approx(t, "util_requested", m.UtilRequested, 0.36)
	approx(t, "util_handed", m.UtilHanded, 0.41)
	approx(t, "util_held", m.UtilHeld, 0.70)
	if m.MaxHeldBoards != 5 || m.WorkingBoards != 5 {
		t.Errorf("max held %d, working %d; want 5, 5", m.MaxHeldBoards, m.WorkingBoards)
	}
	// Latencies sorted 1..5 us: p50 is rank ceil(2.5) = 3, p99 rank 5;
	// destroy 10, 20: p50 rank 1, p99 rank 2. 4 allocations in 45 us.
	approx(t, "create p50", m.CreateP50, 3)
	approx(t, "create p99", m.CreateP99, 5)
	approx(t, "destroy p50", m.DestroyP50, 10)
	approx(t, "destroy p99", m.DestroyP99, 20)
	approx(t, "allocs/s", m.AllocsPerS, 4/45e-6)
	approx(t, "replay wall", m.ReplayWall, 2)
}

// TestHeldIncludesSecondsBeforeFree: boards waiting out seconds_before_free
// are held, but only until the last end (the makespan).
func TestHeldIncludesSecondsBeforeFree(t *testing.T) {
	ms := twoTriads()
	ms.SecondsBeforeFree = 4 * time.Second
	jobs := []Job{
		{ID: 1, Arrival: 0, Form: FormNone, Duration: 2000},
		{ID: 2, Arrival: 0, Form: FormNone, Duration: 10000},
	}
	// Job 1 on triad (1,0) (2 working boards) from 0 to 2 s, waiting until
	// 6 s; job 2 on triad (0,0) (3 boards) from 0 to 10 s.
	out := []Outcome{
		{Job: &jobs[0], Allocated: true, Requested: 1, Handed: 1, Held: []TriadKey{{0, 1, 0}}},
		{Job: &jobs[1], Allocated: true, Requested: 1, Handed: 1, Held: []TriadKey{{0, 0, 0}}},
	}
	m := ComputeMetrics(out, ms, Timing{})
	approx(t, "makespan", m.Makespan, 10)
	approx(t, "util_held", m.UtilHeld, (2*6+3*10)/50.0)
	approx(t, "util_requested", m.UtilRequested, 12/50.0)
}

// TestLargeWaits: the large jobs are those asking for at least the 95th
// percentile (nearest rank) of the boards every job of the trace asks for;
// rejected jobs count there but have no wait.
func TestLargeWaits(t *testing.T) {
	ms := &Machines{Machines: []Machine{{Name: "big", Width: 10, Height: 10}}}
	var jobs []Job
	var out []Outcome
	// Jobs asking for 1..20 boards, each waiting as many seconds as it
	// asks boards, and one rejected 400-board job: 21 sizes, rank 20 is
	// 20 boards. Large: the 20-board job (waited 20 s) and the rejected.
	for n := 1; n <= 20; n++ {
		jobs = append(jobs, Job{ID: int64(n), Form: FormBoards, V: [3]int{n}, Duration: 1000})
	}
	jobs = append(jobs, Job{ID: 21, Form: FormBoards, V: [3]int{400}, Duration: 1000})
	for i := range jobs {
		o := Outcome{Job: &jobs[i], Rejected: i == 20}
		if !o.Rejected {
			o.Allocated, o.AllocAt, o.Requested, o.Handed = true, int64(1000*(i+1)), i+1, i+1
		}
		out = append(out, o)
	}
	m := ComputeMetrics(out, ms, Timing{})
	approx(t, "large wait p95", m.LargeWaitP95, 20)
	approx(t, "large wait max", m.LargeWaitMax, 20)

	// Without the rejected job, rank 19 of 20 is 19 boards: jobs 19 and 20.
	out[19].AllocAt = 50000 // job 20 now waits 50 s
	m = ComputeMetrics(out[:20], ms, Timing{})
	approx(t, "large wait p95", m.LargeWaitP95, 50)
	approx(t, "large wait max", m.LargeWaitMax, 50)
	out[18].AllocAt = 60000 // job 19 60 s: p95 of {50, 60} is rank 2
	m = ComputeMetrics(out[:20], ms, Timing{})
	approx(t, "large wait p95", m.LargeWaitP95, 60)
}

func TestNearestRank(t *testing.T) {
	v := []int{10, 20, 30, 40}
	tests := []struct{ pct, want int }{{50, 20}, {95, 40}, {25, 10}, {26, 20}, {100, 40}, {1, 10}}
	for _, tc := range tests {
		if got := nearestRank(v, tc.pct); got != tc.want {
			t.Errorf("rank %d%% of %v = %d, want %d", tc.pct, v, got, tc.want)
		}
	}
	// 95% of 20 values is exactly rank 19: no rounding up past it.
	twenty := make([]int, 20)
	for i := range twenty {
		twenty[i] = i + 1
	}
	if got := nearestRank(twenty, 95); got != 19 {
		t.Errorf("p95 of 1..20 = %d, want 19", got)
	}
	if got := nearestRank([]int(nil), 50); got != 0 {
		t.Errorf("empty = %d", got)
	}
}
