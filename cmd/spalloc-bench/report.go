//go:build linux

package main

// Results: summarising a measurement, CPU sampling, and printing as a
// table, JSON or CSV.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is one measurement (one connection count).
type result struct {
	Workload  string   `json:"workload"`
	Conns     int      `json:"conns"`
	Pipeline  int      `json:"pipeline"`
	Seconds   float64  `json:"seconds"`
	Requests  int64    `json:"requests"`
	Rate      float64  `json:"requests_per_s"`
	Errors    int64    `json:"errors"`
	Cycles    int64    `json:"cycles,omitempty"`
	CycleRate float64  `json:"cycles_per_s,omitempty"`
	ClientCPU float64  `json:"client_cpu_percent"`
	ServerCPU *float64 `json:"server_cpu_percent,omitempty"`
	// MachineCPU is the busy time of every CPU of the machine (100 per
	// core), StealCPU the time the hypervisor took: whatever the tool and
	// the server do not account for was somebody else's, and disturbs the
	// figures.
	MachineCPU float64 `json:"machine_cpu_percent"`
	StealCPU   float64 `json:"steal_cpu_percent"`
	// PerConn is the fewest and most requests one connection completed
	// (polling workloads): far apart means the server serves its
	// connections unfairly.
	PerConn   *[2]int64   `json:"per_connection_min_max,omitempty"`
	Commands  []cmdResult `json:"commands"`
	LastError string      `json:"last_error,omitempty"`
}

// cmdResult is the figures of one command (or of churn cycles).
type cmdResult struct {
	Command string  `json:"command"`
	Count   int64   `json:"count"`
	Rate    float64 `json:"per_s"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Errors  int64   `json:"errors"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(cfg config, n int, rec *recorder) result {
	secs := cfg.duration.Seconds()
	res := result{Workload: cfg.op, Conns: n, Pipeline: cfg.depth, Seconds: secs, LastError: rec.lastErr}
	for k := range numCmds {
		h := &rec.hist[k]
		if h.n == 0 && rec.errors[k] == 0 {
			continue
		}
		c := cmdResult{Command: k.String(), Count: int64(h.n), Rate: float64(h.n) / secs,
			P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)),
			Max: ms(time.Duration(h.max)), Errors: rec.errors[k]}
		res.Commands = append(res.Commands, c)
		if k == cmdCycle {
			res.Cycles, res.CycleRate = c.Count, c.Rate
			res.Errors += c.Errors
			continue
		}
		res.Requests += c.Count
		res.Errors += c.Errors
	}
	res.Rate = float64(res.Requests) / secs
	return res
}

// ---- CPU use ----

// cpuWindow is the CPU time used in the measuring window, in per cent of
// one core.
type cpuWindow struct{ client, server, machine, steal float64 }

func (w *cpuWindow) sample(ctx context.Context, clk *clock, from, to time.Duration, pid int) {
	if !sleepUntil(ctx, clk, from) {
		return
	}
	c0, s0, m0 := selfCPU(), procCPU(pid), machineCPU()
	if !sleepUntil(ctx, clk, to) {
		return
	}
	c1, s1, m1 := selfCPU(), procCPU(pid), machineCPU()
	secs := (to - from).Seconds()
	w.client = 100 * (c1 - c0).Seconds() / secs
	w.server = 100 * (s1 - s0).Seconds() / secs
	w.machine = 100 * (m1.busy - m0.busy).Seconds() / secs
	w.steal = 100 * (m1.steal - m0.steal).Seconds() / secs
}

type machineTimes struct{ busy, steal time.Duration }

// machineCPU reads the busy (user, nice, system, irq, softirq) and stolen
// time of all CPUs from /proc/stat (100 ticks/s).
func machineCPU() machineTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTimes{}
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(n) * 10 * time.Millisecond
	}
	return machineTimes{busy: tick(1) + tick(2) + tick(3) + tick(6) + tick(7), steal: tick(8)}
}

func sleepUntil(ctx context.Context, clk *clock, t time.Duration) bool {
	d := t - clk.now()
	if d <= 0 {
		return true
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU reads utime+stime of a process from /proc (Linux; 100 ticks/s).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14, stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// ---- output ----

type reporter struct {
	cfg     config
	results []result
	csv     *csv.Writer
}

func newReporter(cfg config) *reporter {
	r := &reporter{cfg: cfg}
	if cfg.csvOut {
		r.csv = csv.NewWriter(os.Stdout)
		_ = r.csv.Write([]string{"workload", "conns", "pipeline", "command", "count", "per_s",
			"p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "client_cpu_percent", "server_cpu_percent", "machine_cpu_percent", "steal_cpu_percent",
			"conn_fewest_requests", "conn_most_requests"})
	}
	return r
}

func (r *reporter) header(desc string) {
	if r.cfg.jsonOut || r.cfg.csvOut {
		return
	}
	fmt.Println(desc)
	fmt.Printf("%6s  %-14s %10s %10s %9s %9s %9s %9s %7s\n",
		"conns", "command", "count", "per s", "p50", "p90", "p99", "max", "errors")
}

func (r *reporter) result(res result) {
	switch {
	case r.cfg.jsonOut:
		r.results = append(r.results, res)
	case r.csv != nil:
		server := ""
		if res.ServerCPU != nil {
			server = fmt.Sprintf("%.0f", *res.ServerCPU)
		}
		fewest, most := "", ""
		if res.PerConn != nil {
			fewest, most = strconv.FormatInt(res.PerConn[0], 10), strconv.FormatInt(res.PerConn[1], 10)
		}
		row := func(cmd string, count int64, rate, p50, p90, p99, max float64, errs int64) {
			_ = r.csv.Write([]string{res.Workload, strconv.Itoa(res.Conns), strconv.Itoa(res.Pipeline), cmd,
				strconv.FormatInt(count, 10), fmt.Sprintf("%.1f", rate), f3(p50), f3(p90), f3(p99), f3(max),
				strconv.FormatInt(errs, 10), fmt.Sprintf("%.0f", res.ClientCPU), server,
				fmt.Sprintf("%.0f", res.MachineCPU), fmt.Sprintf("%.0f", res.StealCPU), fewest, most})
		}
		none := math.NaN() // latencies are per command
		row("all", res.Requests, res.Rate, none, none, none, none, res.Errors)
		for _, c := range res.Commands {
			row(c.Command, c.Count, c.Rate, c.P50, c.P90, c.P99, c.Max, c.Errors)
		}
		r.csv.Flush()
	default:
		cpu := fmt.Sprintf("load tool CPU %.0f%%", res.ClientCPU)
		if res.ServerCPU != nil {
			cpu += fmt.Sprintf(", server CPU %.0f%%", *res.ServerCPU)
		}
		cpu += fmt.Sprintf(", whole machine %.0f%% of %d%%", res.MachineCPU, 100*runtime.NumCPU())
		if res.StealCPU >= 1 {
			cpu += fmt.Sprintf(", stolen %.0f%%", res.StealCPU)
		}
		fmt.Printf("%6d  %-14s %10d %10.0f %39s %7d   (%s)\n", res.Conns, "all requests", res.Requests, res.Rate, "", res.Errors, cpu)
		for _, c := range res.Commands {
			fmt.Printf("%6s  %-14s %10d %10.0f %8.3fms %7.3fms %7.3fms %7.3fms %7d\n", "", c.Command, c.Count, c.Rate,
				c.P50, c.P90, c.P99, c.Max, c.Errors)
		}
		if res.PerConn != nil {
			fmt.Printf("%6s  requests per connection: fewest %d, most %d\n", "", res.PerConn[0], res.PerConn[1])
		}
		if res.LastError != "" {
			fmt.Printf("%6s  last exception: %s\n", "", res.LastError)
		}
	}
}

// f3 formats milliseconds for CSV; NaN (no figure) is empty.
func f3(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func (r *reporter) finish() {
	if r.cfg.jsonOut {
		printJSON(r.results)
	}
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
