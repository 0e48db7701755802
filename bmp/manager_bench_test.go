package bmp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// BenchmarkManager1200Boards: the 1200-board example machine (20x20 triads,
// 50 frames of 24 boards, one fake BMP per frame on loopback) gets 100 jobs
// of 2x2 triads at once. "live": the jobs are created while the manager
// runs, and the time runs from the first create_job (the service's own
// allocation time included); "queued": the jobs are created first and the
// time runs from the manager's start (the BMP side alone). Each iteration
// measures the time until every job is ready and counts the datagrams the
// fakes received. Settings are the example's [bmp] (24 boards/s per BMP)
// or no rate limit, with no post-power-on wait.
func BenchmarkManager1200Boards(b *testing.B) {
	cfg, err := config.Load("../examples/spinnaker-1200.toml")
	if err != nil {
		b.Fatal(err)
	}
	settings := cfg.BMP
	settings.PostPowerOnDelay = 0
	for _, queued := range []bool{false, true} {
		for _, rate := range []float64{settings.PowerOnRate, 0} {
			mode := "live"
			if queued {
				mode = "queued"
			}
			b.Run(fmt.Sprintf("%s/rate=%v", mode, rate), func(b *testing.B) {
				s := settings
				s.PowerOnRate = rate
				var total time.Duration
				var packets, power int
				for range b.N {
					d, p, pw := runBigMachine(b, cfg, s, queued)
					total += d
					packets += p
					power += pw
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/all-ready")
				b.ReportMetric(float64(packets)/float64(b.N), "datagrams")
				b.ReportMetric(float64(power)/float64(b.N), "power-packets")
				b.ReportMetric(0, "ns/op") // the figure is ms/all-ready
			})
		}
	}
}

func runBigMachine(b *testing.B, cfg *config.Config, s config.BMPSettings, queued bool) (time.Duration, int, int) {
	b.StopTimer()
	ctx := context.Background()
	svc := testutil.NewService(b, "")
	if _, err := svc.ApplyConfig(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	eps, err := svc.BMPs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(eps) != 50 {
		b.Fatalf("%d BMPs, want 50", len(eps))
	}
	fakes := map[string]*fakebmp.Server{}
	for _, ep := range eps {
		srv, err := fakebmp.New(fakebmp.Options{})
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		fakes[ep.Address] = srv
	}
	resolve := func(a string) string { return fakes[a].Addr() }
	mctx, cancel := context.WithCancel(ctx)
	mgr := bmp.NewManager(svc.Service, bmp.ManagerOptions{Settings: s, Resolve: resolve})
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	sub := svc.Subscribe()
	defer sub.Close()
	createJobs := func() []int64 {
		var ids []int64
		for range 100 {
			id, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "bench", Shape: service.Shape{Kind: service.ShapeRect, W: 2, H: 2}})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}

	var ids []int64
	if queued {
		ids = createJobs()
	}
	b.StartTimer()
	start := time.Now()
	wg.Go(func() { mgr.Run(mctx) })
	if !queued {
		ids = createJobs()
	}
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	for !allReady(b, svc.Service, ids) {
		select {
		case <-sub.C:
			sub.Take()
		case <-timeout.C:
			b.Fatal("jobs not all ready after 2 minutes")
		}
	}
	took := time.Since(start)
	b.StopTimer()
	packets, power := 0, 0
	for _, srv := range fakes {
		packets += srv.Received()
		power += srv.Count(scp.CmdPower)
	}
	return took, packets, power
}

func allReady(b *testing.B, svc *service.Service, ids []int64) bool {
	for _, id := range ids {
		st, err := svc.JobState(context.Background(), id, "")
		if err != nil {
			b.Fatal(err)
		}
		if st.State == service.StateDestroyed || st.State == service.StateQueued {
			b.Fatalf("job %d is %v: the machine does not hold 100 2x2 jobs", id, st.State)
		}
		if st.State != service.StateReady {
			return false
		}
	}
	return true
}
