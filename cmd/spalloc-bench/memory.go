//go:build linux

package main

// -op memory: the server's resident size with a long job history and many
// idle clients.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// memResult is what -op memory reports.
type memResult struct {
	Jobs            int     `json:"jobs_created_and_destroyed"`
	JobsPerSecond   float64 `json:"jobs_per_s"`
	IdleConns       int     `json:"idle_connections"`
	RSSBeforeKiB    int64   `json:"rss_before_kib"`
	RSSHistoryKiB   int64   `json:"rss_after_history_kib"`
	RSSKiB          int64   `json:"rss_kib"`
	HWMKiB          int64   `json:"rss_peak_kib"`
	Threads         int64   `json:"threads"`
	ClientCPUSecond float64 `json:"client_cpu_s"`
}

func runMemory(ctx context.Context, cfg config) error {
	var res memResult
	var err error
	if res.RSSBeforeKiB, err = procStatus(cfg.pid, "VmRSS"); err != nil {
		return err
	}
	cpu0 := selfCPU()
	if cfg.jobs > 0 {
		start := time.Now()
		if err := makeHistory(ctx, cfg); err != nil {
			return err
		}
		res.Jobs = cfg.jobs
		res.JobsPerSecond = float64(cfg.jobs) / time.Since(start).Seconds()
	}
	if res.RSSHistoryKiB, err = procStatus(cfg.pid, "VmRSS"); err != nil {
		return err
	}
	conns, err := openIdle(ctx, cfg.addr, cfg.idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	res.IdleConns = len(conns)
	res.ClientCPUSecond = (selfCPU() - cpu0).Seconds()
	// Let the server's garbage collector see the settled state.
	time.Sleep(time.Second)
	for _, f := range []struct {
		name string
		v    *int64
	}{{"VmRSS", &res.RSSKiB}, {"VmHWM", &res.HWMKiB}, {"Threads", &res.Threads}} {
		if *f.v, err = procStatus(cfg.pid, f.name); err != nil {
			return err
		}
	}
	switch {
	case cfg.jsonOut:
		printJSON(res)
	case cfg.csvOut:
		fmt.Println("jobs,idle_connections,rss_before_kib,rss_after_history_kib,rss_kib,rss_peak_kib,threads")
		fmt.Printf("%d,%d,%d,%d,%d,%d,%d\n", res.Jobs, res.IdleConns, res.RSSBeforeKiB, res.RSSHistoryKiB,
			res.RSSKiB, res.HWMKiB, res.Threads)
	default:
		fmt.Printf("server pid %d on %s\n", cfg.pid, cfg.addr)
		fmt.Printf("  resident at start:                 %8.1f MiB\n", mib(res.RSSBeforeKiB))
		fmt.Printf("  after %6d jobs created+destroyed: %7.1f MiB  (%.0f jobs/s over %d connections)\n",
			res.Jobs, mib(res.RSSHistoryKiB), res.JobsPerSecond, cfg.conns[0])
		fmt.Printf("  with %5d idle connections:        %8.1f MiB  (peak %.1f MiB, %d threads)\n",
			res.IdleConns, mib(res.RSSKiB), mib(res.HWMKiB), res.Threads)
	}
	if cfg.hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.hold):
		}
	}
	return nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// makeHistory creates and destroys cfg.jobs jobs over cfg.conns[0]
// connections.
func makeHistory(ctx context.Context, cfg config) error {
	n := min(cfg.conns[0], cfg.jobs)
	create := createLine(cfg.owner, cfg.machine)
	sessions := 0
	newSession := func(_ int, rec *recorder) session {
		limit := cfg.jobs / n
		if sessions < cfg.jobs%n {
			limit++
		}
		sessions++
		return &churnSession{rec: rec, create: create, limit: limit}
	}
	clk := newClock()
	loops, recs, err := connect(cfg, n, clk, newSession)
	if err != nil {
		return err
	}
	forever := time.Duration(1<<62 - 1)
	rec, err := drive(ctx, loops, recs, runPlan{clk: clk, stopAt: forever, drainBy: forever, abort: &atomic.Bool{}})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rec.lastErr != "" {
		return fmt.Errorf("while creating the history: %s", rec.lastErr)
	}
	return nil
}

// openIdle opens n connections and makes sure the server serves each (one
// version request), then leaves them idle.
func openIdle(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	var conns []net.Conn
	var d net.Dialer
	for i := range n {
		if ctx.Err() != nil {
			return conns, ctx.Err()
		}
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return conns, fmt.Errorf("idle connection %d of %d: %w", i+1, n, err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write([]byte(`{"command": "version", "args": [], "kwargs": {}}` + "\n")); err != nil {
			return conns, err
		}
	}
	for i, nc := range conns {
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			return conns, fmt.Errorf("idle connection %d: version: %w", i+1, err)
		}
		if k, _ := classify([]byte(line)); k != lineReturn {
			return conns, fmt.Errorf("idle connection %d: version: %q", i+1, line)
		}
		_ = nc.SetReadDeadline(time.Time{})
	}
	return conns, nil
}

// procStatus reads a "Name: value kB" (or plain number) line of
// /proc/PID/status.
func procStatus(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("-pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, errors.New("/proc/" + strconv.Itoa(pid) + "/status has no " + name)
}
