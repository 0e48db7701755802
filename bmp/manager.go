package bmp

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// Defaults of ManagerOptions.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultStopGrace    = 3 * time.Second
	defaultFlushWait    = 100 * time.Millisecond
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Settings are the [bmp] time-outs, retries, delays and rate.
	Settings config.BMPSettings
	// Resolve maps a configured BMP address to the address to send to
	// (fake BMPs listen on loopback ports); nil sends to the configured
	// address.
	Resolve func(address string) string
	// SettingsFor, if set, gives the settings for the BMP at a configured
	// address instead of Settings (fake BMPs need no post-power-on wait).
	SettingsFor func(address string) config.BMPSettings
	// Logger receives the workers' logs; nil discards them.
	Logger *slog.Logger
	// Observer, if set, is told about every step and every op outcome.
	Observer Observer
	// PollInterval is how often workers look for work without being
	// woken by the change feed (a safety net); default 2 s.
	PollInterval time.Duration
	// StopGrace bounds how long work in flight may go on after Run's
	// context ends or a worker is stopped by Sync; default 3 s. The
	// worker's last calls to the service (StopCallsTimeout) come after.
	StopGrace time.Duration
	// ProbeInterval is how often a worker probes its BMP while the BMP
	// is marked unreachable (probe.go); default 5 s.
	ProbeInterval time.Duration
}

// Observer is told what the workers do, for metrics. Its methods are
// called from the worker goroutines and must not block.
type Observer interface {
	// Step reports one exchange with a BMP: a power packet with its
	// FPGA checks, or the link writes of one board.
	Step(StepEvent)
	// OpDone reports an op's final outcome (Err nil = done), as it is
	// handed to the service.
	OpDone(OpEvent)
}

// StepEvent describes one step.
type StepEvent struct {
	BMP      service.BMPEndpoint
	Kind     string // "power_on", "power_off" or "links"
	Boards   int    // boards addressed
	Failed   int    // boards that failed
	Duration time.Duration
	Err      error // the first failure, nil if every board succeeded
}

// OpEvent describes an op's final outcome.
type OpEvent struct {
	BMP      service.BMPEndpoint
	Op       service.BMPOp
	Attempts int           // request attempts made
	Latency  time.Duration // from its first claim to its outcome
	Err      error
}

// changeFeed is the part of a service subscription the manager uses.
type changeFeed interface {
	Ready() <-chan struct{}
	Take() service.Change
	Close()
}

// svcFeed adapts *service.Subscription.
type svcFeed struct{ sub *service.Subscription }

func (f svcFeed) Ready() <-chan struct{} {
	if f.sub == nil {
		return nil
	}
	return f.sub.C
}

func (f svcFeed) Take() service.Change {
	if f.sub == nil {
		return service.Change{}
	}
	return f.sub.Take()
}

func (f svcFeed) Close() {
	if f.sub != nil {
		f.sub.Close()
	}
}

// Manager runs one worker per BMP of the service's machines.
type Manager struct {
	svc         backend
	subscribe   func() changeFeed
	resolve     func(string) string
	settingsFor func(string) config.BMPSettings
	poll        time.Duration
	cfg         workerConfig

	syncReq chan syncRequest

	mu      sync.Mutex
	running bool
	stopped chan struct{} // closed when the current Run returns
}

type syncRequest struct{ done chan error }

// NewManager prepares the BMP workers of svc; Run starts them.
func NewManager(svc *service.Service, opts ManagerOptions) *Manager {
	return newManager(svc, func() changeFeed { return svcFeed{svc.Subscribe()} }, opts)
}

func newManager(svc backend, subscribe func() changeFeed, opts ManagerOptions) *Manager {
	m := &Manager{svc: svc, subscribe: subscribe, resolve: opts.Resolve, settingsFor: opts.SettingsFor,
		poll: opts.PollInterval, syncReq: make(chan syncRequest)}
	if m.resolve == nil {
		m.resolve = func(a string) string { return a }
	}
	if m.poll <= 0 {
		m.poll = DefaultPollInterval
	}
	m.cfg = workerConfig{settings: opts.Settings, log: opts.Logger, obs: opts.Observer, stopGrace: opts.StopGrace, flushWait: defaultFlushWait}
	if m.cfg.log == nil {
		m.cfg.log = slog.New(slog.DiscardHandler)
	}
	if m.cfg.stopGrace <= 0 {
		m.cfg.stopGrace = DefaultStopGrace
	}
	m.cfg.probeEvery = opts.ProbeInterval
	if m.cfg.probeEvery <= 0 {
		m.cfg.probeEvery = DefaultProbeInterval
	}
	return m
}

// Run starts a worker for every BMP the service lists and keeps them busy:
// the change feed wakes the worker of a BMP that got new ops, and every
// PollInterval each worker looks anyway. A BMP that does not answer only
// holds up its own worker. When ctx ends, no more ops are claimed, work in
// flight gets StopGrace to finish, and Run returns nil once every worker
// has stopped. It is an error to call Run while it is running.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("bmp: Manager.Run called twice")
	}
	m.running, m.stopped = true, make(chan struct{})
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		close(m.stopped)
		m.mu.Unlock()
	}()

	feed := m.subscribe() // before listing BMPs, so that no wake-up is missed
	defer feed.Close()
	workers := make(map[int64]*worker)
	defer stopWorkers(workers)
	synced := m.logSync(ctx, workers)
	ticker := time.NewTicker(m.poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-feed.Ready():
			if m.wake(workers, feed.Take().BMPs) || !synced {
				synced = m.logSync(ctx, workers)
			}
		case <-ticker.C:
			if !synced {
				synced = m.logSync(ctx, workers)
			}
			for _, w := range workers {
				w.poke()
			}
		case req := <-m.syncReq:
			err := m.sync(ctx, workers)
			synced = err == nil
			req.done <- err
		}
	}
}

// wake pokes the workers of the given BMPs and reports whether one of them
// has no worker (a BMP added since the last sync).
func (m *Manager) wake(workers map[int64]*worker, bmps []int64) (unknown bool) {
	for _, id := range bmps {
		if w := workers[id]; w != nil {
			w.poke()
		} else {
			unknown = true
		}
	}
	return unknown
}

// Sync makes the running workers match the service's BMPs now (call it
// after applying a new configuration): workers start for new BMPs, and the
// workers of removed BMPs (or of BMPs whose address changed) stop after
// their work in flight. Before Run it does nothing: Run reads the BMPs
// when it starts.
func (m *Manager) Sync(ctx context.Context) error {
	m.mu.Lock()
	running, stopped := m.running, m.stopped
	m.mu.Unlock()
	if !running {
		return nil
	}
	req := syncRequest{done: make(chan error, 1)}
	select {
	case m.syncReq <- req:
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) logSync(ctx context.Context, workers map[int64]*worker) bool {
	err := m.sync(ctx, workers)
	if err != nil && ctx.Err() == nil {
		m.cfg.log.Error("listing BMPs failed; will try again", "err", err)
	}
	return err == nil
}

// sync starts and stops workers to match svc.BMPs. Stopped workers are
// waited for before new ones start, so that two workers never drive the
// same BMP at once (a stale power-off must not race a new power-on).
func (m *Manager) sync(ctx context.Context, workers map[int64]*worker) error {
	eps, err := m.svc.BMPs(ctx)
	if err != nil {
		return err
	}
	want := make(map[int64]service.BMPEndpoint, len(eps))
	for _, ep := range eps {
		want[ep.ID] = ep
	}
	var leaving []*worker
	for id, w := range workers {
		ep, ok := want[id]
		if ok && ep.Address == w.ep.Address && m.resolve(ep.Address) == w.addr {
			continue
		}
		w.cancel()
		leaving = append(leaving, w)
		delete(workers, id)
	}
	for _, w := range leaving {
		<-w.done
		m.cfg.log.Info("BMP worker stopped", "bmp", w.name())
	}
	for _, ep := range eps {
		if workers[ep.ID] != nil {
			continue
		}
		w := newWorker(ep, m.resolve(ep.Address), m.svc, m.workerConfig(ep.Address))
		wctx, cancel := context.WithCancel(ctx)
		w.cancel = cancel
		workers[ep.ID] = w
		go w.run(wctx)
		m.cfg.log.Info("BMP worker started", "bmp", w.name())
	}
	return nil
}

// stopWorkers stops every worker and waits for them.
func stopWorkers(workers map[int64]*worker) {
	for _, w := range workers {
		w.cancel()
	}
	for _, w := range workers {
		<-w.done
	}
}

// workerConfig is the worker configuration for the BMP at a configured
// address.
func (m *Manager) workerConfig(address string) workerConfig {
	cfg := m.cfg
	if m.settingsFor != nil {
		cfg.settings = m.settingsFor(address)
	}
	return cfg
}

// Running reports whether Run is serving the BMPs (for health checks).
func (m *Manager) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}
