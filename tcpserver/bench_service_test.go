package tcpserver_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
)

// BenchmarkPollService: the status-polling workload against the real
// service: N connections, each sending get_job_state for a ready job with
// one request outstanding. Reports req/s and latency percentiles; b.N is
// the total number of requests.
//
//	go test -run '^$' -bench PollService -benchtime 400000x ./tcpserver/
func BenchmarkPollService(b *testing.B) {
	benchService(b, `{"command": "get_job_state", "args": [%d], "kwargs": {}}`)
}

// BenchmarkKeepaliveService is the same with job_keepalive.
func BenchmarkKeepaliveService(b *testing.B) {
	benchService(b, `{"command": "job_keepalive", "args": [%d], "kwargs": {}}`)
}

func benchService(b *testing.B, format string) {
	h := newHarness(b, grid10m, harnessOptions{})
	c := h.dial()
	id, err := c.CreateJob(bg, nil, map[string]any{"owner": "bench", "keepalive": nil})
	if err != nil {
		b.Fatal(err)
	}
	testutil.CompleteAllOps(b, h.svc.Service)
	line := []byte(fmt.Sprintf(format, id) + "\n")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { pollLoad(b, h.addr, n, line) })
	}
}

// pollLoad spreads b.N requests over n connections.
func pollLoad(b *testing.B, addr string, n int, line []byte) {
	conns := make([]net.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		conns[i] = nc
	}
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i, nc := range conns {
		count := b.N / n
		if i < b.N%n {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReader(nc)
			lat[i] = make([]time.Duration, 0, count)
			for range count {
				t0 := time.Now()
				if _, err := nc.Write(line); err != nil {
					b.Error(err)
					return
				}
				reply, err := r.ReadSlice('\n')
				if err != nil || !bytes.HasPrefix(reply, []byte(`{"return"`)) {
					b.Errorf("reply %q, %v", reply, err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
