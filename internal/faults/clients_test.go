package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// queueJobs fills the rig's machine with one job and queues n one-board jobs
// behind it, each with an owner of ownerBytes bytes (the longest the
// protocol allows makes list_jobs as large as it gets).
func queueJobs(t testing.TB, c *client.Client, n, ownerBytes int) {
	t.Helper()
	ctx := testutil.Ctx(t)
	if _, err := c.CreateJob(ctx, []any{2, 1}, map[string]any{"owner": "whole", "keepalive": nil}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		owner := fmt.Sprintf("%04d-%s", i, strings.Repeat("o", ownerBytes-5))
		if _, err := c.CreateJob(ctx, []any{1}, map[string]any{"owner": owner, "keepalive": nil}); err != nil {
			t.Fatal(err)
		}
	}
}

// nonReader connects, sends list_jobs up to requests times and never reads;
// it returns the connection. Its receive buffer is bounded (the kernel may
// grow it to 32 MB, which would hold every reply), but larger than a
// loopback segment: with less, draining it afterwards takes minutes, as TCP
// waits for windows of a full segment.
func nonReader(t testing.TB, addr string, requests int) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.(*net.TCPConn).SetReadBuffer(256 << 10)
	line := []byte(`{"command": "list_jobs"}` + "\n")
	for range requests {
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(line); err != nil {
			break // the server has closed it
		}
	}
	return nc
}

// closedByServer drains what the server sent and reports whether it then
// closed the connection (rather than holding it open, waiting to write).
func closedByServer(nc net.Conn) bool {
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// peakRSS is the most resident memory process pid has had, in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read the server's memory from: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// poller polls get_job_state on its own connection until stop is closed
// and returns the latency of every reply; an error fails the test.
func poller(t testing.TB, addr string, id int64, stop <-chan struct{}) func() []time.Duration {
	c := testutil.Dial(t, addr)
	var lat []time.Duration
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if _, err = c.GetJobState(testutil.Ctx(t), id); err != nil {
				return
			}
			lat = append(lat, time.Since(start))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() []time.Duration {
		<-done
		if err != nil {
			t.Fatalf("the polling client failed: %v", err)
		}
		return lat
	}
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

const disconnected = "does not read its replies; disconnecting"

// attack runs clients non-readers that each send requests list_jobs to srv,
// waits until srv has logged as many disconnections (reading before then
// would let the replies flow), and returns how many of the connections
// srv did close.
func attack(t testing.TB, srv *testutil.Server, clients, requests int) int {
	t.Helper()
	before := strings.Count(srv.Output(), disconnected)
	var wg sync.WaitGroup
	conns := make([]net.Conn, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i] = nonReader(t, srv.V1, requests)
		}()
	}
	wg.Wait()
	testutil.WaitFor(t, func() bool { return strings.Count(srv.Output(), disconnected)-before >= clients })
	closed := 0
	for _, nc := range conns {
		if closedByServer(nc) {
			closed++
		}
	}
	return closed
}

// TestClientsCannotExhaustMemory is issue 12.3: with the largest list_jobs
// reply the limits allow (1,000 queued jobs with 256-byte owners), 30
// clients that send list_jobs and never read are each disconnected once
// their unread replies pass max_output_bytes, and logged; a polling client
// is served all along. The memory and latency figures are logged here and
// measured by BenchmarkNonReadingClients.
func TestClientsCannotExhaustMemory(t *testing.T) {
	r := newRig(t, "")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	queueJobs(t, c, 1000, 256)
	stop := make(chan struct{})
	latencies := poller(t, srv.V1, 1, stop)

	closed := attack(t, srv, 30, 100)
	close(stop)
	lat := latencies()
	if closed != 30 {
		t.Fatalf("%d of 30 non-reading clients were disconnected", closed)
	}
	if n := strings.Count(srv.Output(), disconnected); n != 30 {
		t.Errorf("%d disconnections logged, want 30", n)
	}
	t.Logf("peak resident size of the server %d MiB; the polling client's p99 %v over %d polls (timing on a shared machine)",
		peakRSS(t, srv.PID())>>20, percentile(lat, 0.99), len(lat))
	if st, err := c.GetJobState(testutil.Ctx(t), 2); err != nil || st.State != client.StateQueued {
		t.Fatalf("after the attack: job 2 %+v, %v", st, err)
	}
}

// BenchmarkNonReadingClients measures issue 12.3's goal: the peak resident
// size of the server (goal < 300 MB) and the p99 latency of a polling
// client (goal < 50 ms) while 30 clients that never read send list_jobs
// over the largest queue the limits allow, reconnecting each time they are
// disconnected, b.N rounds.
//
//	go test -run '^$' -bench NonReadingClients -benchtime 5x ./internal/faults/
func BenchmarkNonReadingClients(b *testing.B) {
	bins := testutil.Build(b)
	dir := b.TempDir()
	bmp := testutil.StartFakeBMP(b, bins)
	cfg := filepath.Join(dir, "spalloc.toml")
	testutil.WriteFile(b, cfg, testutil.FastTOML+testutil.MachineTOML("m", 2, bmp, "10.9.0"))
	srv := testutil.StartServer(b, bins, "--config", cfg, "--db", filepath.Join(dir, "spalloc.db"), "--log-level", "warn")
	c := testutil.Dial(b, srv.V1)
	queueJobs(b, c, 1000, 256)
	stop := make(chan struct{})
	latencies := poller(b, srv.V1, 1, stop)
	b.ResetTimer()
	for range b.N {
		if closed := attack(b, srv, 30, 100); closed != 30 {
			b.Fatalf("%d of 30 non-reading clients were disconnected", closed)
		}
	}
	b.StopTimer()
	close(stop)
	lat := latencies()
	b.ReportMetric(float64(peakRSS(b, srv.PID()))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "poll-p99-ms")
	b.ReportMetric(float64(len(lat)), "polls")
}

// spallocdWithFileLimit writes a script that runs spallocd with an
// open-file limit of n (as a facility's default 1024 would be).
func spallocdWithFileLimit(t *testing.T, bins testutil.Binaries, n int) testutil.Binaries {
	t.Helper()
	script := filepath.Join(t.TempDir(), "spallocd-limited")
	text := fmt.Sprintf("#!/bin/sh\nulimit -n %d || exit 99\nexec %q \"$@\"\n", n, bins.Spallocd)
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	bins.Spallocd = script
	return bins
}

// TestConnectionsAreBounded is issue 12.4: with an open-file limit of 256,
// 300 idle connections do not lock anyone out: connections over
// max_connections (derived from the limit) are refused at once with a
// reason, logged once, the HTTP API stays reachable, and a slot that frees
// is used again; one address alone gets at most max_connections_per_address.
func TestConnectionsAreBounded(t *testing.T) {
	r := newRig(t, "")
	limited := spallocdWithFileLimit(t, r.bins, 256)
	wantTotal := 256 - 128 - 1 // the limit, less the reserve and one BMP socket

	t.Run("in all", func(t *testing.T) {
		// Without a per-address limit, so that loopback alone can fill it.
		cfg := r.config + ".all"
		testutil.WriteFile(t, cfg, strings.Replace(readFile(t, r.config), "[server]\n", "[server]\nmax_connections_per_address = 1000\n", 1))
		srv := testutil.StartServer(t, limited, "--config", cfg, "--db", filepath.Join(t.TempDir(), "a.db"))
		var idle []net.Conn
		for range 300 {
			nc, err := net.Dial("tcp", srv.V1)
			if err != nil {
				t.Fatalf("connect: %v (the server stopped accepting)", err)
			}
			idle = append(idle, nc)
		}
		var refused atomic.Int64
		var wg sync.WaitGroup
		for _, nc := range idle {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second)) // a served connection says nothing
				line, _ := bufio.NewReader(nc).ReadString('\n')
				if strings.Contains(line, fmt.Sprintf("the server is serving its maximum of %d connections", wantTotal)) {
					refused.Add(1)
				}
			}()
		}
		wg.Wait()
		if refused.Load() != int64(300-wantTotal) {
			t.Fatalf("%d connections refused with a reason, want %d", refused.Load(), 300-wantTotal)
		}
		if code, body := testutil.HTTPGet(t, srv.HTTP, "/healthz"); code != 200 {
			t.Fatalf("HTTP while the v1 port is full: %d %s", code, body)
		}
		if n := strings.Count(srv.Output(), "connection refused: over the connection limit"); n != 1 {
			t.Errorf("%d log lines for %d refusals, want 1 (rate-limited)", n, refused.Load())
		}
		for _, nc := range idle[:10] { // served ones (the first accepted)
			nc.Close()
		}
		testutil.WaitFor(t, func() bool {
			c, err := client.Dial(testutil.Ctx(t), srv.V1)
			if err != nil {
				return false
			}
			defer c.Close()
			_, err = c.Version(testutil.Ctx(t))
			return err == nil
		})
		for _, nc := range idle {
			nc.Close()
		}
	})

	t.Run("per address", func(t *testing.T) {
		srv := testutil.StartServer(t, limited, "--config", r.config, "--db", filepath.Join(t.TempDir(), "b.db"))
		perAddress := wantTotal / 2
		for i := range perAddress + 1 {
			nc, err := net.Dial("tcp", srv.V1)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if i < perAddress {
				continue
			}
			line, _ := bufio.NewReader(nc).ReadString('\n')
			want := fmt.Sprintf("127.0.0.1 already has the maximum of %d connections", perAddress)
			if !strings.Contains(line, want) {
				t.Fatalf("connection %d from one address: %q, want %q", i+1, line, want)
			}
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
