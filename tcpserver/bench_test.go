package tcpserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service"
)

// constBackend answers get_job_state and job_keepalive at once, so that the
// benchmark measures the transport alone.
type constBackend struct {
	fakeBackend
	st service.JobStatus
}

func (c *constBackend) JobState(context.Context, int64, string) (service.JobStatus, error) {
	return c.st, nil
}

func (c *constBackend) Keepalive(context.Context, int64, string) error { return nil }

// BenchmarkPollTransport: N connections each polling get_job_state with one
// request outstanding, against a backend that answers at once. Reports
// req/s and latency percentiles.
func BenchmarkPollTransport(b *testing.B) {
	be := &constBackend{st: service.JobStatus{State: service.StateReady, Power: ptr(true),
		Keepalive: ptr(time.Minute), StartTime: ptr(time.UnixMicro(1795725029061818)), KeepaliveHost: ptr("127.0.0.1")}}
	s := newServer(be, Options{Logger: quietLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	defer func() {
		_ = s.Shutdown(context.Background())
		<-done
	}()
	line := []byte(`{"command": "get_job_state", "args": [1], "kwargs": {}}` + "\n")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			PollLoad(b, ln.Addr().String(), n, line)
		})
	}
}

// PollLoad spreads b.N requests (line) over n connections to addr, one
// outstanding per connection, and reports req/s and latency percentiles.
// Exported (in a test file only) for the benchmarks of package
// tcpserver_test against the real service.
func PollLoad(b *testing.B, addr string, n int, line []byte) {
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
	b.ReportMetric(0, "ns/op") // b.N is spread over connections; req/s says it
}

// BenchmarkRespond: parsing, running and encoding one get_job_state request
// against a backend that answers at once (no sockets).
func BenchmarkRespond(b *testing.B) {
	be := &constBackend{st: service.JobStatus{State: service.StateReady, Power: ptr(true),
		Keepalive: ptr(time.Minute), StartTime: ptr(time.UnixMicro(1795725029061818)), KeepaliveHost: ptr("127.0.0.1")}}
	e := &env{svc: be, rec: service.NopRecorder{}, host: "127.0.0.1", watches: &watches{}, log: quietLogger()}
	line := []byte(`{"command": "get_job_state", "args": [1], "kwargs": {}}`)
	var reply []byte
	b.ReportAllocs()
	for b.Loop() {
		reply = respond(context.Background(), e, line, reply[:0])
	}
}
