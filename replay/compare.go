package replay

// simulate --compare-policies: every trace replayed under both scheduling
// policies, side by side, with the goals of the reserve policy
// (docs/scheduling.md, "The reserve policy's goals").

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spalloc/spallocd/service/config"
)

// The reserve policy's goals, over the traces with offered load >= 0.6:
// utilisation near the pool-FIFO bound, mean waits far below the
// original's, and the large jobs waiting no longer than under fifo.
const (
	goalReserveUtilVsPool     = 0.77  // util_requested / pool-FIFO's, every trace
	goalReserveUtilVsPoolAt06 = 0.92  // same, load 0.6
	goalReserveGeoUtilVsPool  = 0.87  // geometric mean
	goalReserveWaitVsOrig     = 0.27  // mean wait / original's, every trace
	goalReserveGeoWaitVsOrig  = 0.065 // geometric mean
	goalLargeP95VsFIFO        = 1.05  // large_wait_p95_s / fifo's, every trace
	goalLargeMaxVsFIFO        = 1.65  // large_wait_max_s / fifo's, every trace
	goalGeoLargeP95VsFIFO     = 0.67  // geometric means
	goalGeoLargeMaxVsFIFO     = 0.75
)

// PolicyRow is one trace replayed under both policies.
type PolicyRow struct {
	Name          string
	FIFO, Reserve *Result
	Ref           *TraceReference // nil without a reference
}

// comparePolicies replays every input under fifo and reserve, writes the
// table (or JSON) and returns the exit code.
func comparePolicies(ctx context.Context, f *cliFlags, inputs []input, stdout, stderr io.Writer) int {
	var rows []PolicyRow
	for _, in := range inputs {
		row := PolicyRow{Name: in.name, Ref: in.ref}
		for _, p := range []struct {
			policy string
			res    **Result
		}{{config.PolicyFIFO, &row.FIFO}, {config.PolicyReserve, &row.Reserve}} {
			g := *f
			g.policy = p.policy
			res, err := replayOne(ctx, &g, in, true, stderr)
			if err != nil {
				fmt.Fprintf(stderr, "simulate: %s (%s): %v\n", in.name, p.policy, err)
				return ExitFailed
			}
			*p.res = res
		}
		rows = append(rows, row)
	}
	var err error
	if f.json {
		err = writePolicyJSON(stdout, rows)
	} else {
		err = WritePolicyTable(stdout, rows)
	}
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitFailed
	}
	if f.checkGoals {
		for _, g := range CheckPolicyGoals(rows) {
			if !g.OK {
				return ExitMissGoal
			}
		}
	}
	return ExitOK
}

func writePolicyJSON(w io.Writer, rows []PolicyRow) error {
	out := map[string]map[string]Metrics{}
	for _, r := range rows {
		out[r.Name] = map[string]Metrics{config.PolicyFIFO: r.FIFO.Metrics, config.PolicyReserve: r.Reserve.Metrics}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

// WritePolicyTable writes one Markdown table row per trace with both
// policies' figures, then the reserve policy's goals.
func WritePolicyTable(w io.Writer, rows []PolicyRow) error {
	var b strings.Builder
	b.WriteString("| trace | load | only impossible rejected (fifo, reserve) | wait mean s fifo | reserve | wait / original fifo | reserve |" +
		" util / pool-FIFO fifo | reserve | large p95 s fifo | reserve | reserve / fifo | large max s fifo | reserve | reserve / fifo |\n")
	b.WriteString("| --- | --: | --- |" + strings.Repeat(" --: |", 12) + "\n")
	for _, r := range rows {
		fm, rm := &r.FIFO.Metrics, &r.Reserve.Metrics
		load, rej, wo, uo := "-", "-", [2]string{"-", "-"}, [2]string{"-", "-"}
		if r.Ref != nil {
			b, o := &r.Ref.Bounds, &r.Ref.Original
			load = fmt.Sprintf("%.1f", b.OfferedLoad)
			rej = yesNo(onlyImpossible(fm, b)) + ", " + yesNo(onlyImpossible(rm, b))
			wo = [2]string{ratio(fm.WaitMean, o.WaitMean, true), ratio(rm.WaitMean, o.WaitMean, true)}
			uo = [2]string{ratio(fm.UtilRequested, b.PoolFIFO.UtilRequested, true), ratio(rm.UtilRequested, b.PoolFIFO.UtilRequested, true)}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %.1f | %s | %s | %s | %s | %.1f | %.1f | %s | %.1f | %.1f | %s |\n",
			r.Name, load, rej, fm.WaitMean, rm.WaitMean, wo[0], wo[1], uo[0], uo[1],
			fm.LargeWaitP95, rm.LargeWaitP95, formatRatio(waitRatio(rm.LargeWaitP95, fm.LargeWaitP95)),
			fm.LargeWaitMax, rm.LargeWaitMax, formatRatio(waitRatio(rm.LargeWaitMax, fm.LargeWaitMax)))
	}
	b.WriteString("\nwait / original: below 1 is better; util / pool-FIFO: above 1 is better; large: the jobs asking for at least the trace's\n" +
		"95th percentile of requested boards, their p95 and longest wait (reserve / fifo: below 1 is better).\n")
	if goals := CheckPolicyGoals(rows); len(goals) > 0 {
		b.WriteString("\ngoals of the reserve policy:\n")
		writeGoals(&b, goals)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(ok bool) string { return map[bool]string{true: "yes", false: "NO"}[ok] }

func onlyImpossible(m *Metrics, b *Bounds) bool {
	wrongly, missed := b.Mismatch(m.RejectedIDs)
	return len(wrongly) == 0 && len(missed) == 0
}

// waitRatio is a / b for waits: 1 when both are 0, +Inf when only b is.
func waitRatio(a, b float64) float64 {
	switch {
	case b != 0:
		return a / b
	case a == 0:
		return 1
	}
	return math.Inf(1)
}

func formatRatio(r float64) string {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// CheckPolicyGoals evaluates the reserve policy's goals on the traces
// with a reference and offered load >= 0.6.
func CheckPolicyGoals(rows []PolicyRow) []Goal {
	var goals []Goal
	var utils, waits, p95s, maxes []float64
	for _, r := range rows {
		if r.Ref == nil || r.Ref.Bounds.OfferedLoad < goalLoadTier-loadTolerance {
			continue
		}
		fm, rm, b, o := &r.FIFO.Metrics, &r.Reserve.Metrics, &r.Ref.Bounds, &r.Ref.Original
		add := func(ok bool, format string, args ...any) {
			goals = append(goals, Goal{Trace: r.Name, What: fmt.Sprintf(format, args...), OK: ok})
		}
		add(onlyImpossible(rm, b), "rejected exactly the %d impossible jobs", len(b.ImpossibleIDs))
		u, wr := rm.UtilRequested/b.PoolFIFO.UtilRequested, rm.WaitMean/o.WaitMean
		p95, mx := waitRatio(rm.LargeWaitP95, fm.LargeWaitP95), waitRatio(rm.LargeWaitMax, fm.LargeWaitMax)
		utils, waits, p95s, maxes = append(utils, u), append(waits, wr), append(p95s, p95), append(maxes, mx)
		utilGoal := goalReserveUtilVsPool
		if b.OfferedLoad < goalLoadTier+loadTolerance {
			utilGoal = goalReserveUtilVsPoolAt06
		}
		add(u >= utilGoal, "util_requested / pool-FIFO %.3f >= %.2f", u, utilGoal)
		add(wr <= goalReserveWaitVsOrig, "wait mean / original %.3f <= %.2f", wr, goalReserveWaitVsOrig)
		add(p95 <= goalLargeP95VsFIFO, "large_wait_p95_s / fifo's %.3f <= %.2f", p95, goalLargeP95VsFIFO)
		add(mx <= goalLargeMaxVsFIFO, "large_wait_max_s / fifo's %.3f <= %.2f", mx, goalLargeMaxVsFIFO)
	}
	if len(utils) == 0 {
		return goals
	}
	geo := func(what string, v []float64, goal float64, atLeast bool) {
		g := geoMean(v)
		ok, op := g <= goal, "<="
		if atLeast {
			ok, op = g >= goal, ">="
		}
		goals = append(goals, Goal{What: fmt.Sprintf("geometric mean of %s over %d traces with load >= 0.6: %.3f %s %.3g",
			what, len(v), g, op, goal), OK: ok})
	}
	geo("util_requested / pool-FIFO", utils, goalReserveGeoUtilVsPool, true)
	geo("wait mean / original", waits, goalReserveGeoWaitVsOrig, false)
	geo("large_wait_p95_s / fifo's", p95s, goalGeoLargeP95VsFIFO, false)
	geo("large_wait_max_s / fifo's", maxes, goalGeoLargeMaxVsFIFO, false)
	return goals
}
