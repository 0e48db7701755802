package httpapi

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spalloc/spallocd/service"
)

// Metrics are spallocd's Prometheus metrics. The counters and histograms
// of the transports are fed through the service.ProtocolRecorder and
// service.BMPRecorder methods (cmd/spallocd hands *Metrics to tcpserver and
// the BMP workers); allocation waits come from the service's change feed as
// allocations commit (ObserveAllocations); the gauges of jobs, boards and
// queues are read from the service at each scrape, so they can never drift
// from the database.
type Metrics struct {
	protoConns      prometheus.Gauge
	protoConnsTotal prometheus.Counter
	protoRequests   *prometheus.CounterVec
	bmpLatency      *prometheus.HistogramVec
	bmpFailures     *prometheus.CounterVec
	allocWait       prometheus.Histogram

	// The request counters of each command by result, resolved once: a
	// request costs a map lookup and an atomic add.
	requests map[string]*resultCounters
	unknown  *resultCounters
}

// resultCounters are one command's request counters: [0] ok, [1+kind] an
// error of that service.Kind.
type resultCounters [1 + numKinds]prometheus.Counter

const numKinds = int(service.KindUnavailable) + 1

var (
	_ service.ProtocolRecorder = (*Metrics)(nil)
	_ service.BMPRecorder      = (*Metrics)(nil)
)

// MetricsOptions describe what the metrics count.
type MetricsOptions struct {
	// Commands are the v1 protocol's command names (cmd/spallocd passes
	// tcpserver.Commands()). Requests are counted by these names, anything
	// else as "unknown" so that a misbehaving client cannot grow the label
	// set; every command's series exist from the start.
	Commands []string
	// Version and Commit label spalloc_build_info.
	Version, Commit string
}

// bmpOps are the BMP operations timed and counted, by label.
var bmpOps = []service.OpKind{service.OpPowerOn, service.OpPowerOff, service.OpLinkOff, service.OpLinkOn}

// NewMetrics creates the metrics and registers them in reg, together with
// the Go runtime and process collectors, spalloc_build_info and the
// service's scrape-time gauges (when svc is not nil).
func NewMetrics(reg prometheus.Registerer, svc *service.Service, opts MetricsOptions) (*Metrics, error) {
	m := &Metrics{
		protoConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spalloc_protocol_connections_open", Help: "Open v1 protocol (TCP) connections.",
		}),
		protoConnsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spalloc_protocol_connections_total", Help: "v1 protocol connections accepted.",
		}),
		protoRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spalloc_protocol_requests_total", Help: "v1 protocol requests by command and result (ok or the error kind).",
		}, []string{"command", "result"}),
		bmpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "spalloc_bmp_operation_seconds", Help: "Time a BMP took to carry out an operation, by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"op"}),
		bmpFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spalloc_bmp_failures_total", Help: "BMP operations that failed (timeout, error reply, wrong FPGA identity), by operation.",
		}, []string{"op"}),
		allocWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "spalloc_allocation_wait_seconds", Help: "Time from a job being queued to boards being allocated to it.",
			Buckets: []float64{.01, .1, .5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
	}
	m.requests = make(map[string]*resultCounters, len(opts.Commands))
	for _, cmd := range opts.Commands {
		m.requests[cmd] = m.resultCounters(cmd)
	}
	m.unknown = m.resultCounters("unknown")
	for _, op := range bmpOps {
		m.bmpLatency.WithLabelValues(string(op))
		m.bmpFailures.WithLabelValues(string(op))
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "spalloc_build_info", Help: "Always 1; the labels say which build of spallocd runs.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "commit": opts.Commit},
	})
	buildInfo.Set(1)
	cs := []prometheus.Collector{m.protoConns, m.protoConnsTotal, m.protoRequests, m.bmpLatency, m.bmpFailures, m.allocWait, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if svc != nil {
		cs = append(cs, newServiceCollector(svc))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return m, err
		}
	}
	return m, nil
}

// resultCounters creates the series of one command for every result.
func (m *Metrics) resultCounters(cmd string) *resultCounters {
	var rc resultCounters
	rc[0] = m.protoRequests.WithLabelValues(cmd, "ok")
	for k := range numKinds {
		rc[1+k] = m.protoRequests.WithLabelValues(cmd, service.Kind(k).String())
	}
	return &rc
}

// ProtocolConnection implements service.ProtocolRecorder.
func (m *Metrics) ProtocolConnection(delta int) {
	if m == nil {
		return
	}
	m.protoConns.Add(float64(delta))
	if delta > 0 {
		m.protoConnsTotal.Add(float64(delta))
	}
}

// ProtocolRequest implements service.ProtocolRecorder.
func (m *Metrics) ProtocolRequest(command string, err error) {
	if m == nil {
		return
	}
	rc := m.requests[command]
	if rc == nil {
		rc = m.unknown
	}
	i := 0
	if err != nil {
		k := service.KindOf(err)
		if int(k) >= numKinds {
			k = service.KindInternal // a kind newer than these metrics
		}
		i = 1 + int(k)
	}
	rc[i].Inc()
}

// ObserveAllocations records the wait of every allocation that sub reports
// in spalloc_allocation_wait_seconds, as the allocations commit, until ctx
// ends; then it closes sub and returns nil. Its caller owns the goroutine
// that runs it, and subscribes before the service can allocate (the
// daemon: right after opening the service), so that none is missed.
func (m *Metrics) ObserveAllocations(ctx context.Context, sub *service.Subscription) error {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C:
			for _, a := range sub.Take().Allocations {
				m.allocWait.Observe(a.Wait.Seconds())
			}
		}
	}
}

// BMPOperation implements service.BMPRecorder.
func (m *Metrics) BMPOperation(kind service.OpKind, took time.Duration, err error) {
	if m == nil {
		return
	}
	op := opLabel(kind)
	m.bmpLatency.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		m.bmpFailures.WithLabelValues(op).Inc()
	}
}

func opLabel(k service.OpKind) string {
	if slices.Contains(bmpOps, k) {
		return string(k)
	}
	return "other"
}

// serviceCollector reads the service's gauges at scrape time.
type serviceCollector struct {
	svc *service.Service

	jobs, boards, powered, queue, drained, pendingOps *prometheus.Desc
	emergency                                         *prometheus.Desc
	writeCalls, writeTransactions, writeFailures      *prometheus.Desc
	oldestWait                                        *prometheus.Desc
}

func newServiceCollector(svc *service.Service) *serviceCollector {
	return &serviceCollector{
		svc:        svc,
		jobs:       prometheus.NewDesc("spalloc_jobs", "Jobs by state (destroyed jobs the database still keeps included).", []string{"state"}, nil),
		boards:     prometheus.NewDesc("spalloc_boards", "Boards by machine and state.", []string{"machine", "state"}, nil),
		powered:    prometheus.NewDesc("spalloc_boards_powered", "Boards whose last confirmed power state is on, by machine.", []string{"machine"}, nil),
		queue:      prometheus.NewDesc("spalloc_queue_length", "Jobs queued on each machine (a job may be queued on several).", []string{"machine"}, nil),
		drained:    prometheus.NewDesc("spalloc_machine_drained", "1 while an operator has drained the machine (no new allocations), else 0.", []string{"machine"}, nil),
		pendingOps: prometheus.NewDesc("spalloc_bmp_pending_operations", "BMP operations requested and not yet completed.", nil, nil),
		emergency:  prometheus.NewDesc("spalloc_emergency_stop", "1 while an emergency stop is in force.", nil, nil),
		writeCalls: prometheus.NewDesc("spalloc_write_calls_total", "Service calls that changed (or tried to change) state.", nil, nil),
		writeTransactions: prometheus.NewDesc("spalloc_write_transactions_total",
			"Write transactions committed; concurrent calls share one (group commit).", nil, nil),
		writeFailures: prometheus.NewDesc("spalloc_write_failures_total",
			"Service calls whose change failed for an internal reason (database error, bug) and was rolled back.", nil, nil),
		oldestWait: prometheus.NewDesc("spalloc_queue_oldest_wait_seconds",
			"How long the job queued longest has been waiting since it was created; 0 when nothing is queued.", nil, nil),
	}
}

func (c *serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.boards
	ch <- c.powered
	ch <- c.queue
	ch <- c.drained
	ch <- c.pendingOps
	ch <- c.emergency
	ch <- c.writeCalls
	ch <- c.writeTransactions
	ch <- c.writeFailures
	ch <- c.oldestWait
}

// scrapeTimeout bounds the database reads of one scrape.
const scrapeTimeout = 5 * time.Second

func (c *serviceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	stats, err := c.svc.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, err)
		return
	}
	for _, st := range []service.JobState{service.StateQueued, service.StatePower, service.StateReady, service.StateDestroyed} {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(stats.JobsByState[st]), st.String())
	}
	for _, machine := range sortedKeys(stats.BoardsByState) {
		for _, state := range sortedKeys(stats.BoardsByState[machine]) {
			ch <- prometheus.MustNewConstMetric(c.boards, prometheus.GaugeValue, float64(stats.BoardsByState[machine][state]), machine, state)
		}
	}
	for _, machine := range sortedKeys(stats.PoweredBoards) {
		ch <- prometheus.MustNewConstMetric(c.powered, prometheus.GaugeValue, float64(stats.PoweredBoards[machine]), machine)
	}
	for _, machine := range sortedKeys(stats.QueueByMachine) {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(stats.QueueByMachine[machine]), machine)
	}
	for _, machine := range sortedKeys(stats.Drained) {
		drained := 0.0
		if stats.Drained[machine] {
			drained = 1
		}
		ch <- prometheus.MustNewConstMetric(c.drained, prometheus.GaugeValue, drained, machine)
	}
	ch <- prometheus.MustNewConstMetric(c.pendingOps, prometheus.GaugeValue, float64(stats.PendingBMPOps))
	stop := 0.0
	if stats.EmergencyStop {
		stop = 1
	}
	ch <- prometheus.MustNewConstMetric(c.emergency, prometheus.GaugeValue, stop)
	ch <- prometheus.MustNewConstMetric(c.writeCalls, prometheus.CounterValue, float64(stats.WriteCalls))
	ch <- prometheus.MustNewConstMetric(c.writeTransactions, prometheus.CounterValue, float64(stats.WriteTransactions))
	ch <- prometheus.MustNewConstMetric(c.writeFailures, prometheus.CounterValue, float64(stats.WriteFailures))
	if wait, err := c.oldestQueuedWait(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.oldestWait, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.oldestWait, prometheus.GaugeValue, wait)
	}
}

// oldestQueuedWait is how long the oldest queued job has waited (the job
// list is newest first: the oldest is the last one).
func (c *serviceCollector) oldestQueuedWait(ctx context.Context) (float64, error) {
	queued := service.JobFilter{States: []service.JobState{service.StateQueued}, Limit: 1}
	_, total, err := c.svc.Jobs(ctx, queued)
	if err != nil || total == 0 {
		return 0, err
	}
	queued.Offset = total - 1
	jobs, _, err := c.svc.Jobs(ctx, queued)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	return max(0, c.svc.Now().Sub(jobs[0].CreatedAt).Seconds()), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
