package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// scrapeMetrics reads /metrics of a running server.
func scrapeMetrics(t *testing.T, httpAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := testutil.HTTPGet(t, httpAddr, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return testutil.ParseMetrics(t, []byte(body))
}

var sample = testutil.MetricValue

// TestProtocolMetricsMove makes real v1 requests to a running spallocd and
// reads what they did from its /metrics.
func TestProtocolMetricsMove(t *testing.T) {
	spallocd, _ := binaries(t)
	demo := startDemo(t, spallocd)
	before := scrapeMetrics(t, demo.http)
	for _, name := range []string{"spalloc_protocol_connections_open", "spalloc_protocol_connections_total"} {
		if got := sample(before, name); got != 0 {
			t.Errorf("%s = %v before any client, want 0", name, got)
		}
	}

	c := dial(t, demo.proto)
	job := createJob(t, c)
	awaitState(t, c, job, client.StateReady)
	states := 0
	for range 3 {
		state(t, c, job)
		states++
	}
	if _, err := c.RoundTrip(ctxT(t), []byte(`{"command": "frobnicate"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctxT(t), nil, map[string]any{"keepalive": nil}); err == nil {
		t.Fatal("create_job without an owner succeeded")
	}
	other := dial(t, demo.proto)
	if _, err := other.Version(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	other.Close()

	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for { // the server notices the closed connection a little later
		after = scrapeMetrics(t, demo.http)
		if sample(after, "spalloc_protocol_connections_open") == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	polls := sample(after, "spalloc_protocol_requests_total", "command", "get_job_state", "result", "ok")
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"spalloc_protocol_connections_open", nil, 1},
		{"spalloc_protocol_connections_total", nil, 2},
		{"spalloc_protocol_requests_total", []string{"command", "create_job", "result", "ok"}, 1},
		{"spalloc_protocol_requests_total", []string{"command", "create_job", "result", "invalid"}, 1},
		{"spalloc_protocol_requests_total", []string{"command", "unknown", "result", "invalid"}, 1},
		{"spalloc_protocol_requests_total", []string{"command", "version", "result", "ok"}, 1},
		{"spalloc_protocol_requests_total", []string{"command", "destroy_job", "result", "ok"}, 0},
		{"spalloc_jobs", []string{"state", "ready"}, 1},
	} {
		if got := sample(after, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	if h := testutil.Metric(after, "spalloc_allocation_wait_seconds"); h == nil || h.Histogram.GetSampleCount() != 1 {
		t.Errorf("spalloc_allocation_wait_seconds = %v, want 1 sample (the job's allocation)", h)
	}
	if polls < float64(states+1) { // awaitState polled at least once more
		t.Errorf("get_job_state ok = %v, want at least %d", polls, states+1)
	}
	if sample(after, "spalloc_build_info", "commit", "unknown", "version", "1.0.0-dev") != 1 {
		t.Errorf("spalloc_build_info{commit=unknown, version=1.0.0-dev} missing: %v", after["spalloc_build_info"])
	}
}

// metricName finds the metric names of an expression of PromQL (those of
// spallocd, the Go runtime and the process; `up` is Prometheus's own).
var metricName = regexp.MustCompile(`\b(?:spalloc|go|process)_[a-z0-9_]+\b`)

// TestPackagedDashboardsAndAlertsUseRealMetrics: every metric the Grafana
// dashboards and the Prometheus alerts of packaging/ use is in a real
// scrape of a running server, so a renamed metric cannot leave them blank.
func TestPackagedDashboardsAndAlertsUseRealMetrics(t *testing.T) {
	used := map[string][]string{} // metric -> files
	files, _ := filepath.Glob("../../packaging/grafana/*.json")
	files = append(files, "../../packaging/prometheus/alerts.yml")
	for _, path := range files {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		exprs := regexp.MustCompile(`"expr":\s*"((?:[^"\\]|\\.)*)"|(?m)^\s*expr:\s*(.+)$`).FindAllStringSubmatch(string(text), -1)
		if len(exprs) == 0 {
			t.Errorf("%s: no expressions found", path)
		}
		for _, e := range exprs {
			for _, name := range metricName.FindAllString(e[1]+e[2], -1) {
				used[name] = append(used[name], filepath.Base(path))
			}
		}
	}
	if len(files) < 2 || len(used) < 10 {
		t.Fatalf("found %d files using %d metrics; want the dashboard and the alerts", len(files), len(used))
	}
	spallocd, _ := binaries(t)
	demo := startDemo(t, spallocd)
	fams := scrapeMetrics(t, demo.http)
	for name, where := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if h := strings.TrimSuffix(name, suffix); h != name && fams[h] != nil && fams[h].GetType() == dto.MetricType_HISTOGRAM {
				base = h
			}
		}
		if fams[base] == nil {
			slices.Sort(where)
			t.Errorf("%s (used in %v) is not in a scrape of spallocd", name, slices.Compact(where))
		}
	}
}
