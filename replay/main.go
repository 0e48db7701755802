package replay

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spalloc/spallocd/internal/cpuprofile"
	"github.com/spalloc/spallocd/service/config"
)

// Exit codes of Main.
const (
	ExitOK       = 0
	ExitFailed   = 1 // a replay failed, or rejected other jobs than the impossible ones
	ExitUsage    = 2 // bad flags or unreadable input
	ExitMissGoal = 3 // --check-goals and a goal was missed
)

const usageText = `Replays job traces through the real scheduler in simulated time, to measure queue waits and board use.

usage: spallocd simulate --trace FILE [--machine FILE | --config FILE [--machine-name NAME]] [flags]
       spallocd simulate [flags] TRACE.csv...

Replays a job trace - a CSV file of job requests with their arrival times
and durations - through spallocd's own scheduler on a temporary database, in
simulated time (weeks of jobs take seconds), and reports how long the jobs
waited for boards and how much of the machine they used.

The machine is the trace's machine file (NAME.machine.json beside NAME.csv),
or, with --config, a machine of a spallocd configuration file: replay your
facility's past jobs on your own machine. When a reference.json lies beside
the trace (examples/traces/ has one), every figure is shown next to the
original spalloc server's and next to the best that any first-come,
first-served scheduler could reach (the pool-FIFO bound); the README's
section "Replaying job traces" defines each figure and the trace format.

flags:
`

type cliFlags struct {
	traces      stringList
	machine     string
	config      string
	machineName string
	reference   string
	json        bool
	plot        string
	db          string
	sync        string
	progress    string
	checkGoals  bool
	cpuProfile  string
	policy      string
	compare     bool
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Main is `spallocd simulate`: args are the arguments after the subcommand.
// It returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	var f cliFlags
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&f.traces, "trace", "trace `FILE` (.csv); repeat for several, or give them as arguments")
	fs.StringVar(&f.machine, "machine", "", "machine `FILE` (default: the trace's name with .machine.json); only with one trace")
	fs.StringVar(&f.config, "config", "", "replay on a machine of this spallocd configuration `FILE` (TOML) instead of the trace's machine file")
	fs.StringVar(&f.machineName, "machine-name", "", "with --config: the machine `NAME` to replay on (default: the first)")
	fs.StringVar(&f.reference, "reference", "auto", "reference.json to compare with; auto = reference.json beside the trace if present (not with --config, whose machine differs from the trace's); none = no comparison")
	fs.BoolVar(&f.json, "json", false, "print the metrics as one JSON object (with several traces: one object keyed by trace name)")
	fs.StringVar(&f.plot, "plot", "", "write an SVG `FILE` of boards in use and queue length over simulated time (with several traces, the trace name is added to the name)")
	fs.StringVar(&f.db, "db", "", "replay on this SQLite `FILE` and keep it (default: a temporary file, removed afterwards); with several traces, the trace name is added")
	fs.StringVar(&f.sync, "synchronous", "", "SQLite synchronous mode, NORMAL or FULL (default: the service's)")
	fs.StringVar(&f.progress, "progress", "auto", "progress display on stderr: auto (a bar on a terminal), bar, lines, none")
	fs.StringVar(&f.policy, "policy", "", "scheduling `POLICY`: reserve or fifo ([scheduler] policy; default: that of --config, else the server's default, reserve)")
	fs.BoolVar(&f.compare, "compare-policies", false, "replay each trace under both policies and print them side by side with the goals of the reserve policy (docs/scheduling.md)")
	fs.BoolVar(&f.checkGoals, "check-goals", false, "exit with status 3 when a target of the README's \"Replaying job traces\" (with --compare-policies: a goal of the reserve policy) is missed")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the replays to `FILE` (go tool pprof)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	f.traces = append(f.traces, fs.Args()...)
	if err := f.check(); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if f.cpuProfile != "" {
		stopProfile, err := cpuprofile.Start(f.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return ExitUsage
		}
		defer stopProfile()
	}
	return run(ctx, &f, stdout, stderr)
}

func (f *cliFlags) check() error {
	switch {
	case len(f.traces) == 0:
		return errors.New("no trace given (--trace FILE)")
	case f.machine != "" && len(f.traces) > 1:
		return errors.New("--machine needs exactly one trace; with several, each trace's machine file is found beside it")
	case f.machine != "" && f.config != "":
		return errors.New("--machine and --config both give the machine; give one")
	case f.machineName != "" && f.config == "":
		return errors.New("--machine-name chooses a machine of --config; give --config FILE too")
	case f.compare && (f.policy != "" || f.plot != "" || f.db != ""):
		return errors.New("--compare-policies replays under both policies: give neither --policy, --plot nor --db")
	}
	switch f.policy {
	case "", config.PolicyReserve, config.PolicyFIFO:
	default:
		return fmt.Errorf("--policy %q: want %s or %s", f.policy, config.PolicyReserve, config.PolicyFIFO)
	}
	switch f.progress {
	case "auto", "bar", "lines", "none":
	default:
		return fmt.Errorf("--progress %q: want auto, bar, lines or none", f.progress)
	}
	switch strings.ToUpper(f.sync) {
	case "", "NORMAL", "FULL":
	default:
		return fmt.Errorf("--synchronous %q: want NORMAL or FULL", f.sync)
	}
	return nil
}

// input is one trace to replay with what it needs.
type input struct {
	name     string
	trace    *Trace
	machines *Machines
	ref      *TraceReference
}

func run(ctx context.Context, f *cliFlags, stdout, stderr io.Writer) int {
	inputs, err := loadInputs(f)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitUsage
	}
	if f.compare {
		return comparePolicies(ctx, f, inputs, stdout, stderr)
	}
	multi := len(inputs) > 1
	var rows []SummaryRow
	code := ExitOK
	for _, in := range inputs {
		res, err := replayOne(ctx, f, in, multi, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "simulate: %s: %v\n", in.name, err)
			return ExitFailed
		}
		rows = append(rows, SummaryRow{Name: in.name, Res: res, Ref: in.ref})
		if in.ref != nil {
			if wrongly, missed := in.ref.Bounds.Mismatch(res.Metrics.RejectedIDs); len(wrongly)+len(missed) > 0 {
				fmt.Fprintf(stderr, "simulate: %s: %s\n", in.name, rejectedVerdict(&res.Metrics, &in.ref.Bounds))
				code = ExitFailed
			}
		}
		if !f.json && !multi {
			if err := WriteTable(stdout, res, in.ref); err != nil {
				fmt.Fprintf(stderr, "simulate: %v\n", err)
				return ExitFailed
			}
		}
	}
	if err := writeResults(f, rows, multi, stdout); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitFailed
	}
	if code == ExitOK && f.checkGoals {
		for _, g := range CheckGoals(rows) {
			if !g.OK {
				code = ExitMissGoal
			}
		}
	}
	return code
}

func writeResults(f *cliFlags, rows []SummaryRow, multi bool, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", " ")
	switch {
	case f.json && !multi:
		return enc.Encode(rows[0].Res.Metrics)
	case f.json:
		all := map[string]Metrics{}
		for _, r := range rows {
			all[r.Name] = r.Res.Metrics
		}
		return enc.Encode(all)
	case multi:
		return WriteSummary(stdout, rows)
	case rows[0].Ref != nil:
		// One trace: the table has been written; add the goals.
		var b strings.Builder
		if err := WriteSummary(&b, rows); err != nil {
			return err
		}
		if i := strings.Index(b.String(), "\ngoals:"); i >= 0 {
			_, err := io.WriteString(stdout, b.String()[i+1:])
			return err
		}
	}
	return nil
}

func replayOne(ctx context.Context, f *cliFlags, in input, multi bool, stderr io.Writer) (*Result, error) {
	opts := Options{Synchronous: strings.ToUpper(f.sync), DBPath: derivedPath(f.db, in.name, multi), Policy: f.policy}
	bar := newProgress(f.progress, stderr, in.name)
	opts.Progress = bar.update
	res, err := Run(ctx, in.trace, in.machines, opts)
	bar.finish(err == nil)
	if err != nil {
		return nil, err
	}
	if f.plot != "" {
		path := derivedPath(f.plot, in.name, multi)
		if err := writePlot(path, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func writePlot(path string, res *Result) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".svg" {
		return fmt.Errorf("--plot %s: only SVG plots are written; name the file *.svg", path)
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the plot: %w", err)
	}
	if err := WriteSVG(fh, res); err != nil {
		fh.Close()
		return fmt.Errorf("writing the plot %s: %w", path, err)
	}
	return fh.Close()
}

// derivedPath adds the trace name before the extension of path when several
// traces share one flag ("plot.svg" -> "plot-small-48b-load0.3.svg").
func derivedPath(path, name string, multi bool) string {
	if path == "" || !multi {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + name + ext
}

func loadInputs(f *cliFlags) ([]input, error) {
	refs := map[string]*Reference{}
	var inputs []input
	for _, tp := range f.traces {
		in := input{name: TraceName(tp)}
		var err error
		if in.trace, err = ReadTrace(tp); err != nil {
			return nil, err
		}
		if in.machines, err = readMachinesFor(f, tp); err != nil {
			return nil, err
		}
		reference := f.reference
		if f.config != "" && reference == "auto" {
			reference = "none" // the reference figures are for the trace's own machine
		}
		if in.ref, err = findReference(reference, tp, in.name, refs); err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// readMachinesFor reads the machine a trace is replayed on: --config's,
// --machine's, or the machine file beside the trace.
func readMachinesFor(f *cliFlags, tracePath string) (*Machines, error) {
	switch {
	case f.config != "":
		return MachinesFromConfig(f.config, f.machineName)
	case f.machine != "":
		return ReadMachines(f.machine)
	}
	return ReadMachines(strings.TrimSuffix(tracePath, ".csv") + ".machine.json")
}

// findReference returns the trace's entry of the reference file chosen by
// --reference, or nil when there is none.
func findReference(flagValue, tracePath, name string, cache map[string]*Reference) (*TraceReference, error) {
	path := flagValue
	switch flagValue {
	case "none", "":
		return nil, nil
	case "auto":
		path = filepath.Join(filepath.Dir(tracePath), "reference.json")
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	ref, ok := cache[path]
	if !ok {
		var err error
		if ref, err = ReadReference(path); err != nil {
			return nil, err
		}
		cache[path] = ref
	}
	tr, ok := ref.Traces[name]
	if !ok {
		if flagValue == "auto" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s has no trace %q", path, name)
	}
	return &tr, nil
}

// progress shows how far a replay is: a bar redrawn in place on a
// terminal, or a line per tenth.
type progress struct {
	mode    string // bar, lines, none
	w       io.Writer
	name    string
	start   time.Time
	last    time.Time
	lastPct int
}

func newProgress(mode string, w io.Writer, name string) *progress {
	if mode == "auto" {
		mode = "none"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	return &progress{mode: mode, w: w, name: name, start: time.Now(), lastPct: -1}
}

func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := fh.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const barWidth = 30

func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	pct := 100 * done / total
	switch p.mode {
	case "bar":
		now := time.Now()
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last = now
		filled := barWidth * done / total
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d/%d events %.1fs ", p.name,
			strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pct, done, total, time.Since(p.start).Seconds())
	case "lines":
		if pct/10 == p.lastPct/10 {
			return
		}
		p.lastPct = pct
		fmt.Fprintf(p.w, "%s: %d%% (%d/%d events, %.1f s)\n", p.name, pct, done, total, time.Since(p.start).Seconds())
	}
}

func (p *progress) finish(ok bool) {
	if p.mode != "bar" {
		return
	}
	state := "done"
	if !ok {
		state = "failed"
	}
	fmt.Fprintf(p.w, "\r%s %s in %.2f s%s\n", p.name, state, time.Since(p.start).Seconds(), strings.Repeat(" ", barWidth+30))
}
