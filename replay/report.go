package replay

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// TraceName is a trace's name in reference.json: its file name without
// folder and ".csv".
func TraceName(path string) string {
	base := path
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	return strings.TrimSuffix(base, ".csv")
}

// WriteTable writes one replay's metrics as a readable table, beside the
// original's numbers and the trace's limits when ref is not nil.
func WriteTable(w io.Writer, res *Result, ref *TraceReference) error {
	m := &res.Metrics
	fmt.Fprintf(w, "trace %s: %d jobs on %s, scheduler policy %s\n", TraceName(res.Trace.Path), m.Jobs,
		describeMachines(res.Machines), res.Policy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if ref == nil {
		fmt.Fprintln(tw, "figure\tthis replay\t")
	} else {
		fmt.Fprintln(tw, "figure\tthis replay\toriginal\tpool-FIFO bound\tfluid bound\tbetter is\tthis/original\tthis/pool-FIFO\t")
	}
	for _, row := range tableRows(m, ref) {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := res.Calls
	fmt.Fprintf(w, "service calls: %d create, %d destroy, %d claim (%d BMP operations), %d complete, %d get_job_state, %d get_job_machine_info\n",
		c.Create, c.Destroy, c.Claim, c.Ops, c.Complete, c.State, c.MachineInfo)
	if ref != nil {
		fmt.Fprintln(w, rejectedVerdict(m, &ref.Bounds))
	}
	fmt.Fprintln(w, `Each figure is defined in the README's section "Replaying job traces".`)
	_, err := fmt.Fprintln(w)
	return err
}

func describeMachines(ms *Machines) string {
	var parts []string
	for i := range ms.Machines {
		m := &ms.Machines[i]
		parts = append(parts, fmt.Sprintf("%s (%dx%d triads, %d working boards, %d dead links)",
			m.Name, m.Width, m.Height, m.WorkingBoards(), len(m.DeadLinks)))
	}
	return strings.Join(parts, ", ")
}

// rejectedVerdict says whether exactly the impossible jobs were rejected.
func rejectedVerdict(m *Metrics, b *Bounds) string {
	wrongly, missed := b.Mismatch(m.RejectedIDs)
	if len(wrongly) == 0 && len(missed) == 0 {
		return fmt.Sprintf("rejected exactly the impossible jobs: yes (%d jobs)", len(b.ImpossibleIDs))
	}
	return fmt.Sprintf("rejected exactly the impossible jobs: NO; rejected but possible: %v; impossible but not rejected: %v", wrongly, missed)
}

// Which way a figure is better.
const (
	lower   = "lower"
	higher  = "higher"
	neither = "neither" // compared, but no way is better
)

// tableRows are the rows of WriteTable: figure, value, then with a
// reference: original, pool-FIFO bound, fluid bound, which way is better,
// ratio to the original (with its verdict), ratio to pool-FIFO.
func tableRows(m *Metrics, ref *TraceReference) [][]string {
	type row struct {
		name               string
		v, orig, pool, flu float64
		hasPool, hasFluid  bool
		format             string
		better             string // lower, higher, neither, or "" for counts (no ratios)
	}
	var o Metrics
	var t PeerTiming
	var b Bounds
	if ref != nil {
		o, t, b = ref.Original, ref.Timing, ref.Bounds
	}
	h := func(s float64) float64 { return s / 3600 }
	rows := []row{
		{name: "jobs", v: float64(m.Jobs), orig: float64(o.Jobs), format: "%.0f"},
		{name: "allocated", v: float64(m.Allocated), orig: float64(o.Allocated), pool: float64(b.Possible), hasPool: true, format: "%.0f"},
		{name: "rejected", v: float64(m.Rejected), orig: float64(o.Rejected), pool: float64(b.Impossible), hasPool: true, format: "%.0f"},
		{name: "wait mean s", v: m.WaitMean, orig: o.WaitMean, pool: b.PoolFIFO.WaitMean, hasPool: true,
			flu: b.Fluid.WaitMeanLB, hasFluid: true, format: "%.1f", better: lower},
		{name: "wait median s", v: m.WaitMedian, orig: o.WaitMedian, pool: b.PoolFIFO.WaitMedian, hasPool: true, format: "%.1f", better: lower},
		{name: "wait p95 s", v: m.WaitP95, orig: o.WaitP95, pool: b.PoolFIFO.WaitP95, hasPool: true, format: "%.1f", better: lower},
		{name: "wait max s", v: m.WaitMax, orig: o.WaitMax, format: "%.1f", better: lower},
		{name: "makespan h", v: h(m.Makespan), orig: h(o.Makespan), pool: h(b.PoolFIFO.Makespan), hasPool: true,
			flu: h(b.Fluid.MakespanLB), hasFluid: true, format: "%.2f", better: lower},
		{name: "util_requested", v: m.UtilRequested, orig: o.UtilRequested, pool: b.PoolFIFO.UtilRequested, hasPool: true,
			flu: b.Fluid.UtilRequestedUB, hasFluid: true, format: "%.3f", better: higher},
		{name: "util_handed", v: m.UtilHanded, orig: o.UtilHanded, format: "%.3f", better: higher},
		{name: "util_held", v: m.UtilHeld, orig: o.UtilHeld, format: "%.3f", better: neither}, // held includes idle boards
		{name: "create p50 us", v: m.CreateP50, orig: t.CreateP50, format: "%.1f", better: lower},
		{name: "create p99 us", v: m.CreateP99, orig: t.CreateP99, format: "%.1f", better: lower},
		{name: "destroy p50 us", v: m.DestroyP50, orig: t.DestroyP50, format: "%.1f", better: lower},
		{name: "destroy p99 us", v: m.DestroyP99, orig: t.DestroyP99, format: "%.1f", better: lower},
		{name: "allocations/s", v: m.AllocsPerS, orig: t.AllocsPerS, format: "%.0f", better: higher},
		{name: "time in scheduling calls s", v: m.SchedTime, orig: t.SchedTime, format: "%.3f", better: lower},
		{name: "replay wall s", v: m.ReplayWall, orig: t.ReplayWall, format: "%.2f", better: lower},
		{name: "replay CPU s", v: m.ReplayCPU, orig: t.ReplayCPU, format: "%.2f", better: lower},
	}
	var out [][]string
	for _, r := range rows {
		cells := []string{r.name, fmt.Sprintf(r.format, r.v)}
		if ref != nil {
			better := r.better
			if better == "" || better == neither {
				better = "-"
			}
			cells = append(cells, optional(r.format, r.orig, true),
				optional(r.format, r.pool, r.hasPool), optional(r.format, r.flu, r.hasFluid), better,
				verdict(r.v, r.orig, r.better), ratio(r.v, r.pool, r.better != "" && r.hasPool))
		}
		out = append(out, cells)
	}
	return out
}

func optional(format string, v float64, show bool) string {
	if !show {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func ratio(v, of float64, show bool) string {
	if !show || of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v/of)
}

// verdict is the ratio of v to the original's figure with whether that is
// better or worse, given which way the figure is better.
func verdict(v, orig float64, better string) string {
	r := ratio(v, orig, better != "")
	switch {
	case r == "-" || r == "1.00" || better == neither:
		return r
	case (v < orig) == (better == lower):
		return r + " better"
	default:
		return r + " worse"
	}
}

// The scheduling targets (the README's "Replaying job traces" lists them):
// how close to the pool-FIFO bound utilisation must come and how far below
// the original's the mean wait must fall.
const (
	goalUtilVsPoolAt06     = 0.85 // util_requested / pool-FIFO's, load 0.6
	goalUtilVsPoolAbove    = 0.60 // same, higher loads
	goalWaitVsOrigAt06     = 0.60 // mean wait / original's, load 0.6
	goalWaitVsOrigAbove    = 0.90 // same, higher loads
	goalGeoUtilVsPool      = 0.75 // geometric mean over loads >= 0.6
	goalGeoWaitVsOrig      = 0.60 // same
	goalProdWallSeconds    = 10.0 // replay of the 1200-board trace
	goalLoadTier           = 0.6
	loadTolerance          = 0.05
	prodBoardsForWallGoal  = 1000 // traces on machines this large count as "production"
	relativeEqualTolerance = 1e-9
)

// SummaryRow is one trace of a multi-trace summary.
type SummaryRow struct {
	Name string
	Res  *Result
	Ref  *TraceReference // nil without a reference
}

// Goal is one checked goal.
type Goal struct {
	Trace string // "" for goals over all traces
	What  string
	OK    bool
}

// CheckGoals evaluates the scheduling targets on the traces that have a
// reference.
func CheckGoals(rows []SummaryRow) []Goal {
	var goals []Goal
	var utilRatios, waitRatios []float64
	for _, r := range rows {
		if r.Ref == nil {
			continue
		}
		m, o, b := &r.Res.Metrics, &r.Ref.Original, &r.Ref.Bounds
		add := func(ok bool, format string, args ...any) {
			goals = append(goals, Goal{Trace: r.Name, What: fmt.Sprintf(format, args...), OK: ok})
		}
		wrongly, missed := b.Mismatch(m.RejectedIDs)
		add(len(wrongly) == 0 && len(missed) == 0, "rejected exactly the %d impossible jobs", len(b.ImpossibleIDs))
		add(atLeast(m.UtilRequested, o.UtilRequested), "util_requested %.3f >= original %.3f", m.UtilRequested, o.UtilRequested)
		add(atLeast(o.WaitMean, m.WaitMean), "wait mean %.1f s <= original %.1f s", m.WaitMean, o.WaitMean)
		if r.Res.Machines.WorkingBoards() >= prodBoardsForWallGoal {
			add(m.ReplayWall < goalProdWallSeconds, "replay wall %.2f s < %.0f s", m.ReplayWall, goalProdWallSeconds)
		}
		if b.OfferedLoad < goalLoadTier-loadTolerance {
			continue
		}
		utilGoal, waitGoal := goalUtilVsPoolAbove, goalWaitVsOrigAbove
		if b.OfferedLoad < goalLoadTier+loadTolerance {
			utilGoal, waitGoal = goalUtilVsPoolAt06, goalWaitVsOrigAt06
		}
		u := m.UtilRequested / b.PoolFIFO.UtilRequested
		wr := m.WaitMean / o.WaitMean
		utilRatios, waitRatios = append(utilRatios, u), append(waitRatios, wr)
		add(u >= utilGoal, "util_requested / pool-FIFO %.3f >= %.2f", u, utilGoal)
		add(wr <= waitGoal, "wait mean / original %.3f <= %.2f", wr, waitGoal)
	}
	if len(utilRatios) > 0 {
		gu, gw := geoMean(utilRatios), geoMean(waitRatios)
		goals = append(goals,
			Goal{What: fmt.Sprintf("geometric mean of util_requested / pool-FIFO over %d traces with load >= 0.6: %.3f >= %.2f",
				len(utilRatios), gu, goalGeoUtilVsPool), OK: gu >= goalGeoUtilVsPool},
			Goal{What: fmt.Sprintf("geometric mean of wait mean / original over %d traces with load >= 0.6: %.3f <= %.2f",
				len(waitRatios), gw, goalGeoWaitVsOrig), OK: gw <= goalGeoWaitVsOrig})
	}
	return goals
}

// atLeast is a >= b, forgiving floating-point noise in equal quotients.
func atLeast(a, b float64) bool {
	return a >= b || math.Abs(a-b) <= relativeEqualTolerance*math.Max(math.Abs(a), math.Abs(b))
}

func geoMean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(v)))
}

// WriteSummary writes one line per trace (with ratios to the original and
// to the pool-FIFO bound when a reference is known), then the goals.
func WriteSummary(w io.Writer, rows []SummaryRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\tload\tjobs\tallocated\trejected\tonly impossible rejected\twait mean s\twait/original\twait/pool-FIFO\twait median s\twait p95 s\twait max s\t"+
		"makespan h\tutil_requested\tutil/original\tutil/pool-FIFO\tutil_handed\tutil_held\tcreate p50/p99 us\tdestroy p50/p99 us\tallocations/s\twall s\tCPU s\t")
	for _, r := range rows {
		m := &r.Res.Metrics
		load, rej, wo, wp, uo, up := "-", "-", "-", "-", "-", "-"
		if r.Ref != nil {
			b, o := &r.Ref.Bounds, &r.Ref.Original
			load = fmt.Sprintf("%.1f", b.OfferedLoad)
			wrongly, missed := b.Mismatch(m.RejectedIDs)
			rej = map[bool]string{true: "yes", false: "NO"}[len(wrongly) == 0 && len(missed) == 0]
			wo, wp = ratio(m.WaitMean, o.WaitMean, true), ratio(m.WaitMean, b.PoolFIFO.WaitMean, true)
			uo, up = ratio(m.UtilRequested, o.UtilRequested, true), ratio(m.UtilRequested, b.PoolFIFO.UtilRequested, true)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%.1f\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.2f\t%.3f\t%s\t%s\t%.3f\t%.3f\t%.1f/%.1f\t%.1f/%.1f\t%.0f\t%.2f\t%.2f\t\n",
			r.Name, load, m.Jobs, m.Allocated, m.Rejected, rej, m.WaitMean, wo, wp, m.WaitMedian, m.WaitP95, m.WaitMax,
			m.Makespan/3600, m.UtilRequested, uo, up, m.UtilHanded, m.UtilHeld,
			m.CreateP50, m.CreateP99, m.DestroyP50, m.DestroyP99, m.AllocsPerS, m.ReplayWall, m.ReplayCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "wait/...: below 1 is better; util/...: above 1 is better. "+
		`Each figure is defined in the README's section "Replaying job traces".`)
	goals := CheckGoals(rows)
	if len(goals) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\ngoals:")
	writeGoals(w, goals)
	return nil
}

// writeGoals writes one line per goal: ok or MISS, the trace ("all" for
// goals over every trace) and what was checked.
func writeGoals(w io.Writer, goals []Goal) {
	for _, g := range goals {
		mark := "ok  "
		if !g.OK {
			mark = "MISS"
		}
		where := g.Trace
		if where == "" {
			where = "all"
		}
		fmt.Fprintf(w, "  %s %-20s %s\n", mark, where, g.What)
	}
}
