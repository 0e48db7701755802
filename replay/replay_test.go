package replay

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

func load(t *testing.T, trace, machines string) (*Trace, *Machines) {
	t.Helper()
	tr, err := ReadTrace(trace)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMachines(machines)
	if err != nil {
		t.Fatal(err)
	}
	return tr, ms
}

// TestReplayTinyTraceByHand replays testdata/tiny.csv on one triad (3
// boards) through the real service:
//
//	job  arrival  asks              allocated  why                                  end
//	1    0        1 board           0          free                                 10
//	2    1        1 x 1 triads      10         needs the triad job 1 uses           15
//	3    2        1 board           15         FIFO: behind job 2, although 2       18
//	                                           boards are free from 2 s
//	4    2        boards 1          15         shares the triad with job 3          16
//	5    3        boards 4          rejected   more than the machine's 3 boards
//	6    20       board (0,0,1)     20         free                                 22
//	7    22       1 x 1 triads      22         job 6's end at 22 comes first        23
//
// waits 0, 9, 13, 13, 0, 0: mean 35/6, median (rank 3) 0, p95 (rank 6) 13.
// Makespan 23 s, C = 3: capacity 69 board-s. Requested = handed = 1*10 +
// 3*5 + 1*3 + 1*1 + 1*2 + 3*1 = 34. Held: the triad over [0,18) and
// [20,23) = 3*21 = 63.
func TestReplayTinyTraceByHand(t *testing.T) {
	tr, ms := load(t, "testdata/tiny.csv", "testdata/tiny.machine.json")
	res, err := Run(context.Background(), tr, ms, Options{DBPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	wantAlloc := map[int64]int64{1: 0, 2: 10000, 3: 15000, 4: 15000, 6: 20000, 7: 22000}
	for _, o := range res.Outcomes {
		at, ok := wantAlloc[o.Job.ID]
		switch {
		case !ok && !o.Rejected:
			t.Errorf("job %d not rejected", o.Job.ID)
		case ok && (!o.Allocated || o.AllocAt != at):
			t.Errorf("job %d: allocated %v at %d ms, want at %d ms", o.Job.ID, o.Allocated, o.AllocAt, at)
		}
	}
	m := res.Metrics
	if m.Jobs != 7 || m.Allocated != 6 || m.Rejected != 1 || !slices.Equal(m.RejectedIDs, []int64{5}) {
		t.Errorf("jobs/allocated/rejected = %d/%d/%d %v, want 7/6/1 [5]", m.Jobs, m.Allocated, m.Rejected, m.RejectedIDs)
	}
	approx(t, "wait mean", m.WaitMean, 35.0/6)
	approx(t, "wait median", m.WaitMedian, 0)
	approx(t, "wait p95", m.WaitP95, 13)
	approx(t, "wait max", m.WaitMax, 13)
	approx(t, "makespan", m.Makespan, 23)
	approx(t, "util_requested", m.UtilRequested, 34.0/69)
	approx(t, "util_handed", m.UtilHanded, 34.0/69)
	approx(t, "util_held", m.UtilHeld, 63.0/69)
	if len(res.Timing.Create) != 7 || len(res.Timing.Destroy) != 6 {
		t.Errorf("%d create and %d destroy latencies, want 7 and 6", len(res.Timing.Create), len(res.Timing.Destroy))
	}
	if m.AllocsPerS <= 0 || m.CreateP99 < m.CreateP50 || m.DestroyP99 < m.DestroyP50 || m.ReplayWall <= 0 {
		t.Errorf("timing metrics %+v", m)
	}
}

// TestReplaySmallTraceRejectsExactlyTheImpossibleJobs replays the public
// 48-board trace at load 0.3 end to end.
func TestReplaySmallTraceRejectsExactlyTheImpossibleJobs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("replays 2000 jobs: runs without -short and without -race (scripts/test.sh does)")
	}
	tr, ms := load(t, "testdata/small-48b-load0.3.csv", "testdata/small-48b-load0.3.machine.json")
	ref, err := ReadReference("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Traces["small-48b-load0.3"].Bounds
	res, err := Run(context.Background(), tr, ms, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics
	wrongly, missed := want.Mismatch(m.RejectedIDs)
	if len(wrongly) > 0 || len(missed) > 0 {
		t.Errorf("rejected but possible: %v; impossible but not rejected: %v", wrongly, missed)
	}
	if m.Allocated != want.Possible || m.Allocated+m.Rejected != m.Jobs {
		t.Errorf("allocated %d + rejected %d of %d jobs; want %d allocated", m.Allocated, m.Rejected, m.Jobs, want.Possible)
	}
	// Every job ran for its duration: the work asked for is the trace's.
	if m.UtilRequested <= 0 || m.UtilRequested > m.UtilHanded || m.UtilHanded > m.UtilHeld || m.UtilHeld > 1 {
		t.Errorf("want 0 < util_requested %.4f <= util_handed %.4f <= util_held %.4f <= 1",
			m.UtilRequested, m.UtilHanded, m.UtilHeld)
	}
	if m.Makespan < want.Fluid.MakespanLB-1e-6 {
		t.Errorf("makespan %.3f s is below the fluid bound %.3f s", m.Makespan, want.Fluid.MakespanLB)
	}
}
