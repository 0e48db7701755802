package httpapi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// scrape reads /metrics over HTTP and parses it.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	r := e.get("/metrics")
	if r.code != http.StatusOK {
		e.t.Fatalf("/metrics: status %d: %s", r.code, r.body)
	}
	return testutil.ParseMetrics(e.t, r.body)
}

var (
	metric = testutil.Metric
	value  = testutil.MetricValue
)

// TestMetricsAfterAScriptedSequence: jobs created, waiting, powered and
// destroyed, protocol and BMP observations recorded: every gauge, counter
// and histogram says what happened.
func TestMetricsAfterAScriptedSequence(t *testing.T) {
	e := newEnv(t)
	a := e.createJob("alice", oneBoard(), "spin") // allocated at once
	e.completeOps()
	b := e.createJob("bob", service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, "spin") // waits for alice's board
	e.clock.Advance(30 * time.Second)
	if err := e.svc.DestroyJob(e.ctx, a, nil, ""); err != nil {
		t.Fatal(err)
	}
	e.completeOps()                               // alice's board off, bob allocated after 30 s and powered
	c := e.createJob("carol", oneBoard(), "solo") // allocated, left powering
	carol := e.job(c)
	if bob := e.job(b); bob.State != "ready" || len(bob.Boards) != 5 || carol.State != "power" {
		t.Fatalf("setup: bob %s with %d boards, carol %s; want bob ready on 5 boards, carol powering", bob.State, len(bob.Boards), carol.State)
	}

	e.metrics.ProtocolConnection(+1)
	e.metrics.ProtocolConnection(+1)
	e.metrics.ProtocolConnection(-1)
	for range 3 {
		e.metrics.ProtocolRequest("create_job", nil)
	}
	e.metrics.ProtocolRequest("frobnicate", service.Invalid("unknown command"))
	e.metrics.ProtocolRequest("get_job_state", nil)
	e.metrics.BMPOperation(service.OpPowerOn, 100*time.Millisecond, nil)
	e.metrics.BMPOperation(service.OpPowerOn, 3*time.Second, errors.New("timed out"))
	e.metrics.BMPOperation(service.OpLinkOff, 20*time.Millisecond, nil)

	fams := e.scrape()
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"spalloc_jobs", []string{"state", "queued"}, 0},
		{"spalloc_jobs", []string{"state", "power"}, 1},
		{"spalloc_jobs", []string{"state", "ready"}, 1},
		{"spalloc_jobs", []string{"state", "destroyed"}, 1},
		{"spalloc_boards", []string{"machine", "spin", "state", "job"}, 5},
		{"spalloc_boards", []string{"machine", "spin", "state", "free"}, 0},
		{"spalloc_boards", []string{"machine", "spin", "state", "dead"}, 1},
		{"spalloc_boards", []string{"machine", "spin", "state", "waiting"}, 0},
		{"spalloc_boards", []string{"machine", "solo", "state", "job"}, 1},
		{"spalloc_boards_powered", []string{"machine", "spin"}, 5},
		{"spalloc_boards_powered", []string{"machine", "solo"}, 0},
		{"spalloc_queue_length", []string{"machine", "spin"}, 0},
		{"spalloc_queue_length", []string{"machine", "solo"}, 0},
		{"spalloc_bmp_pending_operations", nil, float64(len(carol.PendingOps))},
		{"spalloc_emergency_stop", nil, 0},
		{"spalloc_protocol_connections_open", nil, 1},
		{"spalloc_protocol_connections_total", nil, 2},
		{"spalloc_protocol_requests_total", []string{"command", "create_job", "result", "ok"}, 3},
		{"spalloc_protocol_requests_total", []string{"command", "unknown", "result", "invalid"}, 1},
		{"spalloc_protocol_requests_total", []string{"command", "get_job_state", "result", "ok"}, 1},
		{"spalloc_bmp_failures_total", []string{"op", "power_on"}, 1},
		{"spalloc_write_failures_total", nil, 0},
		{"spalloc_queue_oldest_wait_seconds", nil, 0},
	}
	for _, w := range want {
		if got := value(fams, w.name, w.labels...); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	if len(carol.PendingOps) == 0 {
		t.Errorf("carol's job has no pending operations; the pending gauge was not exercised")
	}
	calls, commits := value(fams, "spalloc_write_calls_total"), value(fams, "spalloc_write_transactions_total")
	if commits == 0 || calls < commits {
		t.Errorf("spalloc_write_calls_total %v, spalloc_write_transactions_total %v: want some, no more transactions than calls", calls, commits)
	}
	hist := func(name string, labels ...string) *dto.Histogram {
		m := metric(fams, name, labels...)
		if m == nil || m.Histogram == nil {
			t.Fatalf("histogram %s%v missing", name, labels)
		}
		return m.Histogram
	}
	if h := e.awaitAllocationWaits(3); h.GetSampleSum() != 30 {
		t.Errorf("allocation waits sum to %v s, want 30 (alice 0 s, bob 30 s, carol 0 s)", h.GetSampleSum())
	}
	if h := hist("spalloc_bmp_operation_seconds", "op", "power_on"); h.GetSampleCount() != 2 || h.GetSampleSum() != 3.1 {
		t.Errorf("power_on latency: %d samples summing to %v, want 2 summing to 3.1", h.GetSampleCount(), h.GetSampleSum())
	}
	if h := hist("spalloc_bmp_operation_seconds", "op", "link_off"); h.GetSampleCount() != 1 {
		t.Errorf("link_off latency: %d samples, want 1", h.GetSampleCount())
	}

	// A second scrape does not count the same allocations again.
	if h := e.scrape(); metric(h, "spalloc_allocation_wait_seconds").Histogram.GetSampleCount() != 3 {
		t.Errorf("allocation waits counted twice")
	}
}

// awaitAllocationWaits scrapes until spalloc_allocation_wait_seconds holds
// n samples (the metrics take allocations from the change feed on a
// goroutine of their own) and returns it.
func (e *env) awaitAllocationWaits(n uint64) *dto.Histogram {
	e.t.Helper()
	var h *dto.Histogram
	testutil.WaitFor(e.t, func() bool {
		m := metric(e.scrape(), "spalloc_allocation_wait_seconds")
		if m == nil || m.Histogram == nil {
			e.t.Fatal("spalloc_allocation_wait_seconds missing")
		}
		h = m.Histogram
		return h.GetSampleCount() >= n
	})
	if got := h.GetSampleCount(); got != n {
		e.t.Fatalf("spalloc_allocation_wait_seconds has %d samples, want %d", got, n)
	}
	return h
}

// TestAllocationWaitsAreObservedAsTheyCommit: each allocation moves
// spalloc_allocation_wait_seconds when it commits, not when a scrape reads
// the job history. Thirty jobs come and go one after another on a
// single-board machine (retain_destroyed = 1 forgets them as they go) with
// no scrape in between; then the job history is deleted, as an operator
// slimming the database might: the scrape still has every wait.
func TestAllocationWaitsAreObservedAsTheyCommit(t *testing.T) {
	e := newEnv(t)
	cfg, err := config.Parse([]byte("[server]\nretain_destroyed = 1\n"+testConfig), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApplyConfig(e.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	const jobs = 30
	prev := e.createJob("alice", oneBoard(), "solo") // allocated at once: 0 s
	e.completeOps()
	for range jobs - 1 {
		next := e.createJob("alice", oneBoard(), "solo") // waits 10 s for prev's board
		e.clock.Advance(10 * time.Second)
		if err := e.svc.DestroyJob(e.ctx, prev, nil, ""); err != nil {
			t.Fatal(err)
		}
		e.completeOps() // prev's board off, next allocated and powered
		if got := e.job(next).State; got != "ready" {
			t.Fatalf("job %d is %s, want ready", next, got)
		}
		prev = next
	}

	history, err := db.Open(e.ctx, e.dbPath, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer history.Close()
	if _, err := history.Write.ExecContext(e.ctx, `DELETE FROM job_events`); err != nil {
		t.Fatal(err)
	}
	if h := e.awaitAllocationWaits(jobs); h.GetSampleSum() != 10*(jobs-1) {
		t.Errorf("allocation waits sum to %v s, want %d (10 s for each job after the first)", h.GetSampleSum(), 10*(jobs-1))
	}
}

// TestMetricsExistBeforeTheirFirstEvent: a fresh server already exports
// every series whose labels are known up front (each command by each
// result, each BMP operation), the build information and the Go and
// process metrics, so that dashboards and alerts see zeros, not gaps.
func TestMetricsExistBeforeTheirFirstEvent(t *testing.T) {
	e := newEnv(t)
	fams := e.scrape()
	for _, w := range []struct {
		name   string
		labels []string
	}{
		{"spalloc_protocol_requests_total", []string{"command", "create_job", "result", "ok"}},
		{"spalloc_protocol_requests_total", []string{"command", "get_job_state", "result", "not_found"}},
		{"spalloc_protocol_requests_total", []string{"command", "unknown", "result", "invalid"}},
		{"spalloc_protocol_connections_open", nil},
		{"spalloc_protocol_connections_total", nil},
		{"spalloc_bmp_failures_total", []string{"op", "power_off"}},
		{"spalloc_bmp_failures_total", []string{"op", "link_on"}},
	} {
		if got := value(fams, w.name, w.labels...); got != 0 {
			t.Errorf("%s%v = %v on a fresh server, want 0 (-1: missing)", w.name, w.labels, got)
		}
	}
	if m := metric(fams, "spalloc_bmp_operation_seconds", "op", "link_off"); m == nil || m.Histogram.GetSampleCount() != 0 {
		t.Errorf("spalloc_bmp_operation_seconds{op=link_off} missing or not empty: %v", m)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s missing: the Go and process collectors are not registered", name)
		}
	}
}

// TestQueueOldestWait: the gauge behind the "queue wait high" alert is the
// age of the job queued longest, not of the newest.
func TestQueueOldestWait(t *testing.T) {
	e := newEnv(t)
	whole := service.Shape{Kind: service.ShapeRect, W: 2, H: 1}
	e.createJob("alice", whole, "spin") // holds the machine
	e.clock.Advance(10 * time.Second)
	e.createJob("bob", whole, "spin") // queued for 50 s at the scrape
	e.clock.Advance(20 * time.Second)
	e.createJob("carol", whole, "spin") // queued for 30 s
	e.clock.Advance(30 * time.Second)
	if got := value(e.scrape(), "spalloc_queue_oldest_wait_seconds"); got != 50 {
		t.Errorf("spalloc_queue_oldest_wait_seconds = %v, want 50 (bob's wait)", got)
	}
}

// TestDrainedMachineGauge: spalloc_machine_drained is 1 for a drained
// machine from the drain on, and 0 again after the undrain, so an alert can
// remind operators of a machine left drained.
func TestDrainedMachineGauge(t *testing.T) {
	e := newEnv(t)
	drained := func() (spin, solo float64) {
		fams := e.scrape()
		return value(fams, "spalloc_machine_drained", "machine", "spin"), value(fams, "spalloc_machine_drained", "machine", "solo")
	}
	if spin, solo := drained(); spin != 0 || solo != 0 || metric(e.scrape(), "spalloc_machine_drained", "machine", "spin") == nil {
		t.Fatalf("before any drain: spin %v, solo %v; want both present and 0", spin, solo)
	}
	if r := e.admin(http.MethodPost, "/api/v1/machines/spin/drain", `{"reason": "new firmware"}`); r.code != http.StatusOK {
		t.Fatalf("drain: %d %s", r.code, r.body)
	}
	if spin, solo := drained(); spin != 1 || solo != 0 {
		t.Errorf("spin drained: spin %v, solo %v; want 1 and 0", spin, solo)
	}
	if r := e.admin(http.MethodPost, "/api/v1/machines/spin/undrain", ""); r.code != http.StatusOK {
		t.Fatalf("undrain: %d %s", r.code, r.body)
	}
	if spin, _ := drained(); spin != 0 {
		t.Errorf("after the undrain: spin %v, want 0", spin)
	}
}
