package replay

import (
	"cmp"
	"slices"
	"time"
)

// TriadKey names a triad of one machine (index in the machine file).
type TriadKey struct {
	Machine int
	X, Y    int
}

// Outcome is what happened to one trace job in a replay.
type Outcome struct {
	Job       *Job
	ServiceID int64 // the service's job id
	Rejected  bool  // rejected as impossible at creation
	Allocated bool
	AllocAt   int64 // ms of simulated time, when Allocated
	Machine   int   // index of the machine it got, when Allocated
	Requested int   // R (docs/scheduling.md, README "Replaying job traces"), capped at the machine's working boards
	Handed    int   // boards reported to the client
	Held      []TriadKey
}

// End is the simulated instant the job ends (ms); only for allocated jobs.
func (o *Outcome) End() int64 { return o.AllocAt + o.Job.Duration }

// Metrics are the figures of the README's "Replaying job traces", with the names of
// reference.json.
type Metrics struct {
	Jobs          int     `json:"jobs"`
	Allocated     int     `json:"allocated"`
	Rejected      int     `json:"rejected"`
	WaitMean      float64 `json:"wait_mean_s"`
	WaitMedian    float64 `json:"wait_median_s"`
	WaitP95       float64 `json:"wait_p95_s"`
	WaitMax       float64 `json:"wait_max_s"`
	Makespan      float64 `json:"makespan_s"`
	UtilRequested float64 `json:"util_requested"`
	UtilHanded    float64 `json:"util_handed"`
	UtilHeld      float64 `json:"util_held"`
	CreateP50     float64 `json:"create_p50_us"`
	CreateP99     float64 `json:"create_p99_us"`
	DestroyP50    float64 `json:"destroy_p50_us"`
	DestroyP99    float64 `json:"destroy_p99_us"`
	AllocsPerS    float64 `json:"allocs_per_s"`
	ReplayWall    float64 `json:"replay_wall_s"`
	// The p95 and max wait of the large jobs: those whose requested boards
	// are at or above the trace's 95th percentile of requested boards.
	LargeWaitP95 float64 `json:"large_wait_p95_s"`
	LargeWaitMax float64 `json:"large_wait_max_s"`

	// Not part of the JSON report.
	RejectedIDs    []int64 `json:"-"` // trace ids, ascending
	SchedTime      float64 `json:"-"` // seconds inside create and destroy calls
	ReplayCPU      float64 `json:"-"` // CPU seconds of the process during the replay
	MaxHeldBoards  int     `json:"-"`
	WorkingBoards  int     `json:"-"`
	SecondsBefFree float64 `json:"-"`
}

// Timing is the wall-clock side of a replay.
type Timing struct {
	Create  []time.Duration // one per create_job call
	Destroy []time.Duration // one per end: destroy + power-off + queue service
	Other   time.Duration   // other scheduling work (timed frees)
	Wall    time.Duration   // the whole replay
	CPU     time.Duration   // CPU time of the process during the replay (0 if unknown)
}

// ComputeMetrics computes every figure of the README's "Replaying job traces" from the outcomes of a
// replay (in trace order) on machines ms.
func ComputeMetrics(outcomes []Outcome, ms *Machines, t Timing) Metrics {
	m := Metrics{Jobs: len(outcomes), WorkingBoards: ms.WorkingBoards(),
		SecondsBefFree: ms.SecondsBeforeFree.Seconds()}
	var waits []int64
	var first, last int64
	var reqWork, handedWork int64 // board-ms
	for i := range outcomes {
		o := &outcomes[i]
		if i == 0 || o.Job.Arrival < first {
			first = o.Job.Arrival
		}
		if o.Rejected {
			m.Rejected++
			m.RejectedIDs = append(m.RejectedIDs, o.Job.ID)
		}
		if !o.Allocated {
			continue
		}
		m.Allocated++
		waits = append(waits, o.AllocAt-o.Job.Arrival)
		last = max(last, o.End())
		reqWork += int64(o.Requested) * o.Job.Duration
		handedWork += int64(o.Handed) * o.Job.Duration
	}
	slices.Sort(m.RejectedIDs)
	fillWaits(&m, waits)
	fillLargeWaits(&m, outcomes)
	if m.Allocated > 0 {
		span := last - first
		m.Makespan = msToS(span)
		heldWork, maxHeld := heldIntegral(outcomes, ms, first, last)
		m.MaxHeldBoards = maxHeld
		capacity := float64(m.WorkingBoards) * float64(span)
		if capacity > 0 {
			m.UtilRequested = float64(reqWork) / capacity
			m.UtilHanded = float64(handedWork) / capacity
			m.UtilHeld = float64(heldWork) / capacity
		}
	}
	fillTiming(&m, t)
	return m
}

func fillWaits(m *Metrics, waits []int64) {
	if len(waits) == 0 {
		return
	}
	slices.Sort(waits)
	var sum int64
	for _, w := range waits {
		sum += w
	}
	m.WaitMean = float64(sum) / float64(len(waits)) / 1000
	m.WaitMedian = msToS(nearestRank(waits, 50))
	m.WaitP95 = msToS(nearestRank(waits, 95))
	m.WaitMax = msToS(waits[len(waits)-1])
}

// fillLargeWaits computes the waits of the large jobs: those whose
// requested boards (before capping) are at or above the 95th percentile,
// by nearest rank, of the requested boards of every job of the trace.
func fillLargeWaits(m *Metrics, outcomes []Outcome) {
	if len(outcomes) == 0 {
		return
	}
	sizes := make([]int, len(outcomes))
	for i := range outcomes {
		sizes[i] = outcomes[i].Job.Requested()
	}
	slices.Sort(sizes)
	large := nearestRank(sizes, 95)
	var waits []int64
	for i := range outcomes {
		if o := &outcomes[i]; o.Allocated && o.Job.Requested() >= large {
			waits = append(waits, o.AllocAt-o.Job.Arrival)
		}
	}
	slices.Sort(waits)
	if len(waits) > 0 {
		m.LargeWaitP95 = msToS(nearestRank(waits, 95))
		m.LargeWaitMax = msToS(waits[len(waits)-1])
	}
}

func fillTiming(m *Metrics, t Timing) {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	create := slices.Clone(t.Create)
	destroy := slices.Clone(t.Destroy)
	slices.Sort(create)
	slices.Sort(destroy)
	m.CreateP50, m.CreateP99 = us(nearestRank(create, 50)), us(nearestRank(create, 99))
	m.DestroyP50, m.DestroyP99 = us(nearestRank(destroy, 50)), us(nearestRank(destroy, 99))
	sched := t.Other
	for _, d := range create {
		sched += d
	}
	for _, d := range destroy {
		sched += d
	}
	m.SchedTime = sched.Seconds()
	if sched > 0 {
		m.AllocsPerS = float64(m.Allocated) / sched.Seconds()
	}
	m.ReplayWall = t.Wall.Seconds()
	m.ReplayCPU = t.CPU.Seconds()
}

// nearestRank returns the value at 1-based rank ceil(pct/100 * n) of sorted
// values, in exact integer arithmetic (the zero value when empty).
func nearestRank[T any](sorted []T, pct int) T {
	var zero T
	n := len(sorted)
	if n == 0 {
		return zero
	}
	rank := (pct*n + 99) / 100
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

func msToS(ms int64) float64 { return float64(ms) / 1000 }

// heldIntegral integrates, over [first, last], the working boards no other
// job could be given: every working board of every triad an allocation
// touches (a triad shared by single-board jobs counts once), from the
// allocation until seconds_before_free after the job's end. It returns
// board-ms and the most boards held at once.
func heldIntegral(outcomes []Outcome, ms *Machines, first, last int64) (int64, int) {
	type change struct {
		at    int64
		delta int // +1 take, -1 release
		o     *Outcome
	}
	var changes []change
	free := ms.SecondsBeforeFree.Milliseconds()
	for i := range outcomes {
		o := &outcomes[i]
		if o.Allocated {
			changes = append(changes, change{o.AllocAt, +1, o}, change{o.End() + free, -1, o})
		}
	}
	// Releases before takes at one instant: a board freed and re-allocated
	// in the same instant is held by one job at a time.
	slices.SortStableFunc(changes, func(a, b change) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return a.delta - b.delta
	})
	working := triadWorkingBoards(ms)
	users := map[TriadKey]int{}
	held, maxHeld := 0, 0
	var integral int64
	prev := first
	for _, c := range changes {
		at := min(max(c.at, first), last)
		integral += int64(held) * (at - prev)
		prev = at
		for _, k := range c.o.Held {
			users[k] += c.delta
			switch {
			case c.delta > 0 && users[k] == 1:
				held += working[k]
			case c.delta < 0 && users[k] == 0:
				held -= working[k]
			}
		}
		maxHeld = max(maxHeld, held)
	}
	return integral, maxHeld
}

// triadWorkingBoards maps every triad with a dead board to its working
// boards; triads not in the map have 3.
func triadWorkingBoards(ms *Machines) map[TriadKey]int {
	out := map[TriadKey]int{}
	for mi := range ms.Machines {
		m := &ms.Machines[mi]
		for x := 0; x < m.Width; x++ {
			for y := 0; y < m.Height; y++ {
				out[TriadKey{mi, x, y}] = 3
			}
		}
		for _, b := range m.DeadBoards {
			out[TriadKey{mi, b.X, b.Y}]--
		}
	}
	return out
}
