//go:build linux

// Command spalloc-bench measures a v1 spalloc server from a separate
// process, through the protocol only (it never touches the server's
// database).
//
// Workloads (-op):
//
//   - get_job_state, job_keepalive, poll (the two alternating): the status
//     polling of a busy facility. Each connection keeps -pipeline requests
//     outstanding (1 = a polling client). By default one job (owner
//     spalloc-bench, keepalive null) is created to poll and destroyed at
//     the end; -job polls an existing id instead.
//   - churn: each connection creates a one-board job (keepalive null),
//     subscribes with notify_job, calls get_job_state after each
//     notification until the job is ready, destroys it, and starts again;
//     it reports cycles per second and the latency of each step.
//   - mixed: a busy facility's traffic: each connection owns a job and
//     sends, one at a time, get_job_state (55%), job_keepalive (20%),
//     where_is of its job (8%), list_machines (5%), list_jobs (5%) and a
//     short job's create_job then destroy_job (7%).
//   - memory: puts -jobs jobs into the server's history (create_job then
//     destroy_job over -conns connections), holds -idle idle connections
//     open, and reads the server's resident size from /proc/-pid/status.
//
// For each connection count it reports requests per second and, per
// command, p50/p90/p99/max latency (from writing the request to reading its
// reply) and the number of exception replies, plus the CPU used by the
// load tool and (with -pid) by the server during the measurement; -json or
// -csv print the same figures for scripts.
//
// The connections are driven by -loops epoll event loops over non-blocking
// sockets (Linux only), so that the load tool costs about one write and
// less than one read and epoll_wait per request and leaves the CPU to the
// server.
//
//	spalloc-bench -addr 127.0.0.1:22244 -conns 1,10,100 -duration 5s
//	spalloc-bench -op churn -conns 10 -machine spinnaker1m -pid $(pidof spallocd)
//	spalloc-bench -op memory -pid $(pidof spallocd) -jobs 10000 -idle 1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spalloc/spallocd/tcpserver/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "spalloc-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	addr     string
	conns    []int
	duration time.Duration
	warmup   time.Duration
	drain    time.Duration
	op       string
	job      int64
	machine  string
	owner    string
	depth    int
	loops    int
	pid      int
	jobs     int
	idle     int
	hold     time.Duration
	jsonOut  bool
	csvOut   bool
}

const usageText = `spalloc-bench measures a running spalloc v1 server: requests per second, latency, CPU and memory.

usage: spalloc-bench [flags]

It talks to the server only through the v1 protocol, from a separate process.
Workloads (-op): get_job_state, job_keepalive and poll (status polling of one
job), churn (create, wait until ready, destroy, again), mixed (a busy
facility's traffic) and memory (the server's resident size with many jobs in
its history and many idle connections; needs -pid). For each connection count
it prints requests per second and per-command latency percentiles.

  spalloc-bench -addr 127.0.0.1:22244 -conns 1,10,100 -duration 5s
  spalloc-bench -op churn -conns 10 -pid $(pidof spallocd)

flags:
`

func parseFlags() (config, error) {
	var c config
	var conns string
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usageText)
		flag.PrintDefaults()
	}
	flag.StringVar(&c.addr, "addr", "127.0.0.1:22244", "server address")
	flag.StringVar(&conns, "conns", "1,10,100", "comma-separated connection counts, measured one after another (churn and memory: default 10)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measuring time per connection count")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each measurement")
	flag.DurationVar(&c.drain, "drain", 10*time.Second, "longest wait for outstanding replies after a measurement")
	flag.StringVar(&c.op, "op", "get_job_state", "workload: get_job_state, job_keepalive, poll (both alternating), churn, mixed or memory")
	flag.Int64Var(&c.job, "job", 0, "poll this job id instead of creating one")
	flag.StringVar(&c.machine, "machine", "", "machine for the jobs the tool creates (default: any)")
	flag.StringVar(&c.owner, "owner", "spalloc-bench", "owner of the jobs the tool creates")
	flag.IntVar(&c.depth, "pipeline", 1, "requests each polling connection keeps outstanding (1 = a polling client; more = pipelining)")
	flag.IntVar(&c.loops, "loops", 1, "event loops (OS threads) driving the connections")
	flag.IntVar(&c.pid, "pid", 0, "process id of the server, to report its CPU use (and, for memory, its resident size)")
	flag.IntVar(&c.jobs, "jobs", 10000, "memory: jobs to create and destroy first")
	flag.IntVar(&c.idle, "idle", 1000, "memory: idle connections to hold open while measuring")
	flag.DurationVar(&c.hold, "hold", 0, "memory: keep the idle connections open this long after measuring")
	flag.BoolVar(&c.jsonOut, "json", false, "print the results as JSON")
	flag.BoolVar(&c.csvOut, "csv", false, "print the results as CSV")
	flag.Parse()
	if flag.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	connsSet := false
	flag.Visit(func(f *flag.Flag) { connsSet = connsSet || f.Name == "conns" })
	if !connsSet && (c.op == "churn" || c.op == "memory") {
		conns = "10"
	}
	for _, s := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-conns: %q is not a positive number", s)
		}
		c.conns = append(c.conns, n)
	}
	switch {
	case c.depth < 1:
		return c, errors.New("-pipeline: must be at least 1")
	case c.loops < 1:
		return c, errors.New("-loops: must be at least 1")
	case c.jsonOut && c.csvOut:
		return c, errors.New("-json and -csv: choose one")
	case c.duration <= 0:
		return c, errors.New("-duration: must be positive")
	}
	switch c.op {
	case "get_job_state", "job_keepalive", "poll", "churn", "mixed":
	case "memory":
		if c.pid <= 0 {
			return c, errors.New("-op memory needs -pid, the server's process id")
		}
		if c.jobs < 0 || c.idle < 0 {
			return c, errors.New("-jobs and -idle must not be negative")
		}
	default:
		return c, fmt.Errorf("-op: unknown workload %q (want get_job_state, job_keepalive, poll, churn, mixed or memory)", c.op)
	}
	if c.depth > 1 && (c.op == "churn" || c.op == "mixed" || c.op == "memory") {
		return c, fmt.Errorf("-pipeline: the %s workload keeps one request outstanding per connection", c.op)
	}
	return c, nil
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if cfg.op == "memory" {
		return runMemory(ctx, cfg)
	}
	newSession, what, cleanup, err := workload(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()

	out := newReporter(cfg)
	out.header(fmt.Sprintf("%s on %s, %s, %s per step (+%s warm-up), %d event loop(s)",
		cfg.op, cfg.addr, what, cfg.duration, cfg.warmup, cfg.loops))
	for _, n := range cfg.conns {
		res, err := measure(ctx, cfg, n, newSession)
		if err != nil {
			return err
		}
		out.result(res)
		if ctx.Err() != nil {
			break
		}
	}
	out.finish()
	return nil
}

// sessionFunc makes the session of connection i.
type sessionFunc func(i int, rec *recorder) session

// workload returns how to make the sessions of cfg.op, a description, and
// what to do at the end.
func workload(ctx context.Context, cfg config) (sessionFunc, string, func(), error) {
	create := createLine(cfg.owner, cfg.machine)
	switch cfg.op {
	case "churn":
		return func(_ int, rec *recorder) session {
			return &churnSession{rec: rec, create: create, waitReady: true}
		}, "one-board jobs created, ready, destroyed", func() {}, nil
	case "mixed":
		return func(i int, rec *recorder) session {
			return &mixedSession{rec: rec, create: create, rng: uint64(i)*0x9e3779b97f4a7c15 + 1}
		}, "one job per connection plus short jobs", func() {}, nil
	}
	job, cleanup, err := prepareJob(ctx, cfg)
	if err != nil {
		return nil, "", nil, err
	}
	lines, cmds := pollLines(cfg.op, job)
	return func(_ int, rec *recorder) session {
		return &pollSession{rec: rec, lines: lines, cmds: cmds, depth: cfg.depth}
	}, fmt.Sprintf("job %d, %d outstanding per connection", job, cfg.depth), cleanup, nil
}

// pollLines are the pre-encoded requests a polling connection cycles
// through.
func pollLines(op string, job int64) ([][]byte, []cmdKind) {
	state := jobRequest("get_job_state", job)
	keep := jobRequest("job_keepalive", job)
	switch op {
	case "job_keepalive":
		return [][]byte{keep}, []cmdKind{cmdKeepalive}
	case "poll":
		return [][]byte{state, keep}, []cmdKind{cmdGetJobState, cmdKeepalive}
	default:
		return [][]byte{state}, []cmdKind{cmdGetJobState}
	}
}

// prepareJob returns the id to poll and how to clean up after.
func prepareJob(ctx context.Context, cfg config) (int64, func(), error) {
	if cfg.job != 0 {
		return cfg.job, func() {}, nil
	}
	c, err := client.Dial(ctx, cfg.addr)
	if err != nil {
		return 0, nil, err
	}
	kw := map[string]any{"owner": cfg.owner, "keepalive": nil}
	if cfg.machine != "" {
		kw["machine"] = cfg.machine
	}
	id, err := c.CreateJob(ctx, nil, kw)
	if err != nil {
		c.Close()
		return 0, nil, fmt.Errorf("creating the job to poll: %w", err)
	}
	return id, func() {
		reason := "spalloc-bench finished"
		_ = c.DestroyJob(context.Background(), id, &reason)
		c.Close()
	}, nil
}

// run state shared by the loops of one measurement.
type runPlan struct {
	clk          *clock
	from, stopAt time.Duration
	drainBy      time.Duration
	abort        *atomic.Bool
}

// connect opens n connections spread over cfg.loops loops, each with the
// session newSession makes.
func connect(cfg config, n int, clk *clock, newSession sessionFunc) ([]*loop, []*recorder, error) {
	addr, err := net.ResolveTCPAddr("tcp", cfg.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("-addr: %w", err)
	}
	loops := make([]*loop, min(cfg.loops, n))
	recs := make([]*recorder, len(loops))
	closeAll := func() {
		for _, l := range loops {
			if l != nil {
				l.close()
			}
		}
	}
	for i := range loops {
		if loops[i], err = newLoop(clk); err != nil {
			closeAll()
			return nil, nil, err
		}
		recs[i] = &recorder{}
	}
	for i := range n {
		fd, err := dialRaw(addr)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
		k := i % len(loops)
		if err := loops[k].add(fd, newSession(i, recs[k])); err != nil {
			syscall.Close(fd)
			closeAll()
			return nil, nil, err
		}
	}
	return loops, recs, nil
}

// drive runs the loops to the end of the plan and merges their records.
func drive(ctx context.Context, loops []*loop, recs []*recorder, p runPlan) (*recorder, error) {
	for _, r := range recs {
		r.from, r.to = p.from, p.stopAt
	}
	stopWatch := context.AfterFunc(ctx, func() { p.abort.Store(true) })
	defer stopWatch()
	errs := make([]error, len(loops))
	var wg sync.WaitGroup
	for i, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.abort = p.abort
			errs[i] = l.run(p.stopAt, p.drainBy)
		}()
	}
	wg.Wait()
	for _, l := range loops {
		l.close()
	}
	all := &recorder{from: p.from, to: p.stopAt}
	for _, r := range recs {
		all.merge(r)
	}
	return all, errors.Join(errs...)
}

// perConn returns the fewest and most requests one polling connection
// completed in the measuring window; nil for other workloads.
func perConn(loops []*loop) *[2]int64 {
	var mm *[2]int64
	for _, l := range loops {
		for _, c := range l.conns {
			ps, ok := c.sess.(*pollSession)
			if !ok {
				return nil
			}
			if mm == nil {
				mm = &[2]int64{ps.completed, ps.completed}
			}
			mm[0], mm[1] = min(mm[0], ps.completed), max(mm[1], ps.completed)
		}
	}
	return mm
}

// measure runs n connections for warmup+duration and summarises the
// measured part.
func measure(ctx context.Context, cfg config, n int, newSession sessionFunc) (result, error) {
	clk := newClock()
	loops, recs, err := connect(cfg, n, clk, newSession)
	if err != nil {
		return result{}, err
	}
	from := clk.now() + cfg.warmup
	plan := runPlan{clk: clk, from: from, stopAt: from + cfg.duration, drainBy: from + cfg.duration + cfg.drain,
		abort: &atomic.Bool{}}

	// Sample CPU use over the measuring window while the loops run.
	var cpu cpuWindow
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		cpu.sample(ctx, clk, plan.from, plan.stopAt, cfg.pid)
	}()
	rec, err := drive(ctx, loops, recs, plan)
	<-sampled
	if err != nil {
		return result{}, err
	}
	res := summarize(cfg, n, rec)
	res.ClientCPU = cpu.client
	res.MachineCPU, res.StealCPU = cpu.machine, cpu.steal
	res.PerConn = perConn(loops)
	if cfg.pid > 0 {
		res.ServerCPU = &cpu.server
	}
	if res.Requests == 0 {
		return res, errors.New("no request completed in the measuring window")
	}
	return res, nil
}
