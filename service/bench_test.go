package service_test

// Benchmarks on the 1200-board example machine with 1,000 live and 1,000
// queued jobs (figures in docs/performance.md, "Service"):
//
//	go test -run '^$' -bench . -benchtime 400x ./service/
//
// CreateJob and DestroyJob report p50/p99 latencies; JobState and Keepalive
// ns/op.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

const example1200 = "../examples/spinnaker-1200.toml"

// loaded is a 1200-board machine with 1,000 ready jobs and 1,000 queued
// ones (the head of the queue wants the whole machine).
type loaded struct {
	svc    *testutil.Service
	live   []int64
	queued []int64
}

func load1200(b *testing.B) *loaded {
	b.Helper()
	cfg, err := config.Load(example1200)
	if err != nil {
		b.Fatal(err)
	}
	ts := testutil.NewService(b, "")
	ctx := context.Background()
	if _, err := ts.ApplyConfig(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	l := &loaded{svc: ts}
	mk := func(shape service.Shape) int64 {
		id, err := ts.CreateJob(ctx, request(shape, noKeepalive(), fromHost("127.0.0.1")))
		if err != nil {
			b.Fatal(err)
		}
		return id
	}
	for i := range 1000 {
		shape := one()
		if i%20 == 0 {
			shape = rect(1, 1)
		}
		l.live = append(l.live, mk(shape))
	}
	testutil.CompleteAllOps(b, ts.Service)
	l.queued = append(l.queued, mk(rect(20, 20)))
	for range 999 {
		l.queued = append(l.queued, mk(one()))
	}
	jobs, _ := ts.ListJobs(ctx)
	if len(jobs) != 2000 {
		b.Fatalf("%d live jobs, want 2000", len(jobs))
	}
	runBackground(b, ts.Service)
	return l
}

// runBackground runs the service's background loop (as the server does:
// it also checkpoints the log) until the benchmark ends.
func runBackground(b *testing.B, svc *service.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	b.Cleanup(func() { cancel(); <-done })
}

// latencies records durations and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	pct := func(p float64) float64 { return float64(s[int(p*float64(len(s)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(s[len(s)-1].Microseconds()), "max-µs")
}

func BenchmarkCreateJob(b *testing.B) { benchCreate(b, load1200(b)) }

// BenchmarkCreateJobWhileChecking is BenchmarkCreateJob while the
// consistency check runs in a loop beside it: the check holds the writer
// only to take its snapshot, so creates hardly wait for it.
func BenchmarkCreateJobWhileChecking(b *testing.B) {
	l := load1200(b)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			if problems, err := l.svc.CheckConsistency(context.Background()); err != nil || len(problems) > 0 {
				b.Errorf("consistency check: %v %v", problems, err)
				break
			}
			n++
		}
		done <- n
	}()
	start := time.Now()
	benchCreate(b, l)
	stop()
	checks := <-done
	b.ReportMetric(float64(checks)/time.Since(start).Seconds(), "checks/s")
}

// benchCreate creates (and, untimed, destroys) one-board jobs, reporting
// the latencies of create_job.
func benchCreate(b *testing.B, l *loaded) {
	ctx := context.Background()
	var lat latencies
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		id, err := l.svc.CreateJob(ctx, request(one()))
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := l.svc.DestroyJob(ctx, id, nil, ""); err != nil { // keep 1,000 queued
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	lat.report(b)
}

func BenchmarkDestroyJob(b *testing.B) {
	ctx := context.Background()
	var lat latencies
	var l *loaded
	b.StopTimer()
	for i := range b.N {
		if l == nil || i%len(l.live) == 0 {
			l = load1200(b)
		}
		id := l.live[i%len(l.live)]
		b.StartTimer()
		start := time.Now()
		err := l.svc.DestroyJob(ctx, id, nil, "")
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		testutil.CompleteAllOps(b, l.svc.Service) // power-off: boards back, queue served
	}
	lat.report(b)
}

func BenchmarkJobState(b *testing.B) {
	l := load1200(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := l.svc.JobState(ctx, l.live[i%len(l.live)], "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeepalive(b *testing.B) {
	l := load1200(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := l.svc.Keepalive(ctx, l.queued[i%len(l.queued)], "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyConfig1200 loads the 1200-board example into an empty
// database (target: under 1 s).
func BenchmarkApplyConfig1200(b *testing.B) {
	cfg, err := config.Load(example1200)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		ts := testutil.NewService(b, "")
		b.StartTimer()
		if _, err := ts.ApplyConfig(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
