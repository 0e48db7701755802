package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// benchHandler serves the 1200-board example machine with 100 one-board
// jobs and one 6x6-triad job allocated.
func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	ctx := context.Background()
	cfg, err := config.Load(filepath.Join("..", "examples", "spinnaker-1200.toml"))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := service.Open(ctx, service.Options{DBPath: filepath.Join(b.TempDir(), "bench.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	if _, err := svc.ApplyConfig(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	for i := range 101 {
		shape := service.Shape{Kind: service.ShapeOneBoard}
		if i == 0 {
			shape = service.Shape{Kind: service.ShapeRect, W: 6, H: 6}
		}
		if _, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "bench", Shape: shape}); err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, svc, MetricsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return New(svc, Options{Registry: reg, Metrics: m})
}

func benchGet(b *testing.B, path string) {
	h := benchHandler(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// BenchmarkMachineMap1200: the board map the dashboard loads per machine.
func BenchmarkMachineMap1200(b *testing.B) { benchGet(b, "/api/v1/machines/spinnaker1m") }

// BenchmarkMetricsScrape1200: one Prometheus scrape.
func BenchmarkMetricsScrape1200(b *testing.B) { benchGet(b, "/metrics") }

// BenchmarkJobList1200: the dashboard's live job list.
func BenchmarkJobList1200(b *testing.B) { benchGet(b, "/api/v1/jobs?state=live&limit=500") }
