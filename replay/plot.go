package replay

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Series is a step function of simulated time: Values[i] holds from
// Times[i] (ms) until Times[i+1].
type Series struct {
	Times  []int64
	Values []int
}

// TimeSeries are the curves of a replay over simulated time.
type TimeSeries struct {
	Start, End int64 // first arrival, last end (ms)
	Handed     Series
	Held       Series
	Queue      Series
}

// BuildTimeSeries computes boards handed out, boards held (as util_held
// counts them) and queue length over simulated time.
func BuildTimeSeries(res *Result) TimeSeries {
	var ts TimeSeries
	type change struct {
		at           int64
		order        int // releases, then takes, then arrivals
		handed, qlen int
		o            *Outcome
		take         int // +1 take, -1 release, 0 none
	}
	var ch []change
	free := res.Machines.SecondsBeforeFree.Milliseconds()
	for i := range res.Outcomes {
		o := &res.Outcomes[i]
		if i == 0 || o.Job.Arrival < ts.Start {
			ts.Start = o.Job.Arrival
		}
		if o.Rejected {
			continue
		}
		ch = append(ch, change{at: o.Job.Arrival, order: 2, qlen: +1})
		if !o.Allocated {
			continue
		}
		ts.End = max(ts.End, o.End())
		ch = append(ch,
			change{at: o.AllocAt, order: 1, handed: o.Handed, qlen: -1, o: o, take: +1},
			change{at: o.End(), order: 0, handed: -o.Handed},
			change{at: o.End() + free, order: 0, o: o, take: -1})
	}
	slices.SortStableFunc(ch, func(a, b change) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return a.order - b.order
	})
	working := triadWorkingBoards(res.Machines)
	users := map[TriadKey]int{}
	handed, held, queue := 0, 0, 0
	for i, c := range ch {
		handed += c.handed
		queue += c.qlen
		if c.o != nil {
			for _, k := range c.o.Held {
				users[k] += c.take
				if c.take > 0 && users[k] == 1 {
					held += working[k]
				} else if c.take < 0 && users[k] == 0 {
					held -= working[k]
				}
			}
		}
		if i+1 < len(ch) && ch[i+1].at == c.at {
			continue // record only the state after the whole instant
		}
		ts.Handed.add(c.at, handed)
		ts.Held.add(c.at, held)
		ts.Queue.add(c.at, queue)
	}
	return ts
}

func (s *Series) add(t int64, v int) {
	if n := len(s.Values); n > 0 && s.Values[n-1] == v {
		return
	}
	s.Times = append(s.Times, t)
	s.Values = append(s.Values, v)
}

// bucketMeans averages the step function over n buckets of [start, end]
// (time-weighted; 0 before the first step). Bucket edges are whole
// milliseconds, start + (end-start)*b/n, so the buckets tile the range
// exactly and every millisecond of a step counts once, in its own bucket.
func (s *Series) bucketMeans(start, end int64, n int) []float64 {
	out := make([]float64, n)
	if end <= start || len(s.Times) == 0 {
		return out
	}
	edge := func(b int) int64 { return start + (end-start)*int64(b)/int64(n) }
	i := 0 // the step holding time t (or the first step, before it)
	for b := range n {
		lo, hi := edge(b), edge(b+1)
		if hi == lo { // fewer milliseconds than buckets
			hi = lo + 1
		}
		sum := 0.0
		for t := lo; t < hi; {
			for i+1 < len(s.Times) && s.Times[i+1] <= t {
				i++
			}
			v, next := 0, min(hi, s.Times[i]) // before the first step
			if s.Times[i] <= t {
				v, next = s.Values[i], hi
				if i+1 < len(s.Times) {
					next = min(hi, s.Times[i+1])
				}
			}
			sum += float64(v) * float64(next-t)
			t = next
		}
		out[b] = sum / float64(hi-lo)
	}
	return out
}

// Plot geometry (SVG user units).
const (
	plotWidth   = 1000
	panelHeight = 260
	marginLeft  = 70
	marginRight = 20
	marginTop   = 76 // title and subtitle, then the first panel's legend
	panelGap    = 60
	plotBuckets = 800
)

// WriteSVG draws boards in use and queue length over simulated time.
func WriteSVG(w io.Writer, res *Result) error {
	ts := BuildTimeSeries(res)
	m := &res.Metrics
	c := m.WorkingBoards
	var b strings.Builder
	height := marginTop + 2*panelHeight + panelGap + 50
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, height, plotWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15">%s: %d jobs, util_requested %.3f, wait mean %.1f s, makespan %.2f h</text>`+"\n",
		marginLeft, xmlEscape(TraceName(res.Trace.Path)), m.Jobs, m.UtilRequested, m.WaitMean, m.Makespan/3600)
	fmt.Fprintf(&b, `<text x="%d" y="42" fill="#555">time averages over %d intervals of simulated time</text>`+"\n", marginLeft, plotBuckets)

	top := float64(marginTop)
	boardMax := float64(c)
	panel(&b, top, "boards", boardMax, ts, []curve{
		{ts.Held.bucketMeans(ts.Start, ts.End, plotBuckets), "#d62728", "held (util_held)"},
		{ts.Handed.bucketMeans(ts.Start, ts.End, plotBuckets), "#1f77b4", "handed out"},
	}, fmt.Sprintf("working boards %d", c))
	queue := ts.Queue.bucketMeans(ts.Start, ts.End, plotBuckets)
	qMax := 1.0
	for _, v := range queue {
		qMax = math.Max(qMax, v)
	}
	panel(&b, top+panelHeight+panelGap, "queued jobs", niceCeil(qMax), ts,
		[]curve{{queue, "#2ca02c", "queue length"}}, "")
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type curve struct {
	values []float64
	color  string
	label  string
}

func panel(b *strings.Builder, top float64, ylabel string, ymax float64, ts TimeSeries, curves []curve, limit string) {
	left, width := float64(marginLeft), float64(plotWidth-marginLeft-marginRight)
	h := float64(panelHeight)
	if ymax <= 0 {
		ymax = 1
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", left, top, width, h)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := top + h - h*float64(i)/4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, y, left+width, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, y+4, v)
	}
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", left-50, top+h/2, xmlEscape(ylabel))
	hours := float64(ts.End-ts.Start) / 3.6e6
	step := niceStep(hours / 8)
	for t := 0.0; t <= hours+1e-9 && step > 0; t += step {
		x := left + width*t/math.Max(hours, 1e-9)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`+"\n", x, top+h, x, top+h+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x, top+h+16, t)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">simulated hours since the first arrival</text>`+"\n", left+width/2, top+h+32)
	for i, c := range curves {
		var pts []string
		n := len(c.values)
		for j, v := range c.values {
			x := left + width*(float64(j)+0.5)/float64(n)
			y := top + h - h*math.Min(v, ymax)/ymax
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`+"\n", c.color, strings.Join(pts, " "))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", left+8+float64(i)*160, top-6, c.color, xmlEscape(c.label))
	}
	if limit != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", left+width, top-6, xmlEscape(limit))
	}
}

// niceStep rounds a tick spacing up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func niceCeil(v float64) float64 {
	s := niceStep(v / 4)
	return math.Ceil(v/s) * s
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
