// Command spalloc-bench measures a v1 spalloc server under the status
// polling workload of a busy facility: N connections, each sending
// get_job_state (or job_keepalive) for a job as fast as the replies come
// back, one request outstanding per connection. It reports requests per
// second and the p50/p99/max latency for each connection count.
//
//	spalloc-bench -addr 127.0.0.1:22244 -conns 1,10,100 -duration 5s
//
// By default it creates one job (owner spalloc-bench, keepalive null) to
// poll and destroys it at the end; -job polls an existing id instead.
// It talks to the server only through the protocol and never touches its
// database.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	op       string
	job      int64
	machine  string
	depth    int
}

func parseFlags() (config, error) {
	var c config
	var conns string
	flag.StringVar(&c.addr, "addr", "127.0.0.1:22244", "server address")
	flag.StringVar(&conns, "conns", "1,10,100", "comma-separated connection counts, measured one after another")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measuring time per connection count")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each measurement")
	flag.StringVar(&c.op, "op", "get_job_state", "get_job_state, job_keepalive or mixed (alternating)")
	flag.Int64Var(&c.job, "job", 0, "poll this job id instead of creating one")
	flag.StringVar(&c.machine, "machine", "", "machine for the job created to poll (default: any)")
	flag.IntVar(&c.depth, "pipeline", 1, "requests each connection keeps outstanding (1 = a polling client; more = pipelining)")
	flag.Parse()
	for _, s := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-conns: %q is not a positive number", s)
		}
		c.conns = append(c.conns, n)
	}
	if c.depth < 1 {
		return c, fmt.Errorf("-pipeline: must be at least 1")
	}
	switch c.op {
	case "get_job_state", "job_keepalive", "mixed":
	default:
		return c, fmt.Errorf("-op: unknown operation %q", c.op)
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

	job, cleanup, err := prepareJob(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()

	fmt.Printf("server %s, %s of job %d, %d outstanding per connection, %s per step\n",
		cfg.addr, cfg.op, job, cfg.depth, cfg.duration)
	fmt.Printf("%6s %12s %10s %10s %10s %10s\n", "conns", "req/s", "p50", "p90", "p99", "max")
	for _, n := range cfg.conns {
		res, err := measure(ctx, cfg, job, n)
		if err != nil {
			return err
		}
		fmt.Printf("%6d %12.0f %10s %10s %10s %10s\n", n, res.rate,
			fmtDur(res.p50), fmtDur(res.p90), fmtDur(res.p99), fmtDur(res.max))
	}
	return nil
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
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
	kw := map[string]any{"owner": "spalloc-bench", "keepalive": nil}
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

type result struct {
	rate               float64
	p50, p90, p99, max time.Duration
}

// measure runs n connections for warmup+duration and summarises the
// measured part.
func measure(ctx context.Context, cfg config, job int64, n int) (result, error) {
	lines := requestLines(cfg.op, job)
	conns := make([]net.Conn, n)
	for i := range conns {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", cfg.addr)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return result{}, err
		}
		conns[i] = nc
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	lat := make([][]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i], errs[i] = poll(ctx, nc, lines, cfg.depth, measureFrom, end)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return result{}, errors.New("no request completed")
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return result{
		rate: float64(len(all)) / cfg.duration.Seconds(),
		p50:  q(0.50), p90: q(0.90), p99: q(0.99), max: all[len(all)-1],
	}, nil
}

// requestLines are the pre-encoded requests one connection cycles through.
func requestLines(op string, job int64) [][]byte {
	state := []byte(fmt.Sprintf(`{"command": "get_job_state", "args": [%d], "kwargs": {}}`+"\n", job))
	keep := []byte(fmt.Sprintf(`{"command": "job_keepalive", "args": [%d], "kwargs": {}}`+"\n", job))
	switch op {
	case "job_keepalive":
		return [][]byte{keep}
	case "mixed":
		return [][]byte{state, keep}
	default:
		return [][]byte{state}
	}
}

// poll keeps depth requests outstanding on one connection until end,
// recording the latency (send to reply) of those sent after from. Replies
// come in request order, so send times wait in a ring.
func poll(ctx context.Context, nc net.Conn, lines [][]byte, depth int, from, end time.Time) ([]time.Duration, error) {
	r := bufio.NewReader(nc)
	var lat []time.Duration
	ring := make([]time.Time, depth) // send times of outstanding requests
	head, outstanding, next := 0, 0, 0
	var out []byte
	send := func(n int) error {
		out = out[:0]
		now := time.Now()
		for range n {
			out = append(out, lines[next%len(lines)]...)
			ring[(head+outstanding)%depth] = now
			outstanding++
			next++
		}
		_, err := nc.Write(out)
		return err
	}
	if err := send(depth); err != nil {
		return lat, err
	}
	for outstanding > 0 {
		// Read every reply that has arrived, then top up in one write.
		got := 0
		for outstanding > 0 && (got == 0 || r.Buffered() > 0) {
			reply, err := r.ReadSlice('\n')
			if err != nil {
				return lat, err
			}
			if !bytes.HasPrefix(reply, []byte(`{"return"`)) {
				return lat, fmt.Errorf("unexpected reply %q", reply)
			}
			if t0 := ring[head]; t0.After(from) {
				lat = append(lat, time.Since(t0))
			}
			head = (head + 1) % depth
			outstanding--
			got++
		}
		if ctx.Err() != nil || time.Now().After(end) {
			continue // drain what is outstanding, send no more
		}
		if err := send(got); err != nil {
			return lat, err
		}
	}
	return lat, nil
}
