// Package testutil holds test helpers shared by spallocd's packages: a fake
// clock, a real service on a temporary SQLite file configured from TOML,
// helpers that play the BMP workers' part for tests that run no fake BMP,
// and StartBMPs, which runs the real BMP workers against in-process fake
// BMPs (so that packages that must not import bmp can still use them).
//
// It is imported by tests only. It must not hold test logic of any one
// package; helpers fail the test through testing.TB instead of returning
// errors.
package testutil

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// Epoch is where fake clocks start: a fixed, recognisable instant.
var Epoch = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// FakeClock is a service.Clock that moves only when told to. It is safe for
// concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock reading t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Service is a running service over a temporary database, with the fake
// clock it was opened with (nil with WithRealClock).
type Service struct {
	*service.Service
	Clock  *FakeClock
	DBPath string
	Config *config.Config
	opts   service.Options
}

// Option adjusts the options NewService opens the service with.
type Option func(*service.Options)

// WithOptions lets a test change any option (the database path and clock
// are already set).
func WithOptions(f func(*service.Options)) Option { return f }

// WithRealClock opens the service with the system clock.
func WithRealClock() Option { return func(o *service.Options) { o.Clock = service.SystemClock{} } }

// WithLogger sends the service's log to l (the default discards it).
func WithLogger(l *slog.Logger) Option { return func(o *service.Options) { o.Logger = l } }

// ParseConfig parses a TOML configuration held in memory, failing the test
// on error.
func ParseConfig(t testing.TB, tomlConfig string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(tomlConfig), "")
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return cfg
}

// NewService opens a service on a fresh database file in t.TempDir(),
// applies the configuration and closes the service when the test ends. The
// service runs on a FakeClock at Epoch unless WithRealClock is given; no
// background loop runs (call Tick, or start Run yourself: it ticks every
// second unless WithOptions says otherwise). An empty
// configuration means no machines.
func NewService(t testing.TB, tomlConfig string, opts ...Option) *Service {
	t.Helper()
	clock := NewFakeClock(Epoch)
	o := service.Options{DBPath: filepath.Join(t.TempDir(), "spalloc.db"), Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TickInterval: time.Second}
	for _, f := range opts {
		f(&o)
	}
	ts := &Service{DBPath: o.DBPath, opts: o}
	if fc, ok := o.Clock.(*FakeClock); ok {
		ts.Clock = fc
	}
	ts.Service = open(t, o)
	if tomlConfig != "" {
		ts.Apply(t, tomlConfig)
	}
	return ts
}

func open(t testing.TB, o service.Options) *service.Service {
	t.Helper()
	svc, err := service.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open service: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// Apply parses and applies a configuration, failing the test on error.
func (s *Service) Apply(t testing.TB, tomlConfig string) service.ReloadReport {
	t.Helper()
	cfg := ParseConfig(t, tomlConfig)
	rep, err := s.ApplyConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("apply configuration: %v", err)
	}
	s.Config = cfg
	return rep
}

// Restart closes the service and opens a new one on the same database and
// clock, and applies the last configuration again, as a server restart (not
// cold) does.
func (s *Service) Restart(t testing.TB) {
	t.Helper()
	if err := s.Service.Close(); err != nil {
		t.Fatalf("close service: %v", err)
	}
	s.Service = open(t, s.opts)
	if s.Config != nil {
		if _, err := s.ApplyConfig(context.Background(), s.Config); err != nil {
			t.Fatalf("apply configuration after restart: %v", err)
		}
	}
}

// CompleteAllOps plays every BMP worker: it claims and completes
// successfully every pending BMP operation, round after round, until none is
// left. It returns how many it completed.
func CompleteAllOps(t testing.TB, svc *service.Service) int {
	t.Helper()
	return FinishOps(t, svc, func(service.BMPOp) error { return nil })
}

// FailAllOps is CompleteAllOps with every operation failing with err.
func FailAllOps(t testing.TB, svc *service.Service, err error) int {
	t.Helper()
	return FinishOps(t, svc, func(service.BMPOp) error { return err })
}

// FinishOps claims every pending operation, round after round, and
// completes each with outcome(op) (nil = success). It returns how many it
// completed.
func FinishOps(t testing.TB, svc *service.Service, outcome func(service.BMPOp) error) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for round := 0; ; round++ {
		if round > 1000 {
			t.Fatal("BMP operations keep coming after 1000 rounds")
		}
		ops := ClaimAll(t, svc)
		if len(ops) == 0 {
			return total
		}
		results := make([]service.OpResult, len(ops))
		for i, op := range ops {
			results[i] = service.OpResult{OpID: op.ID, Err: outcome(op)}
		}
		if err := svc.CompleteBMPOps(ctx, results); err != nil {
			t.Fatalf("complete BMP operations: %v", err)
		}
		total += len(ops)
	}
}

// ClaimAll claims the pending operations of every BMP (one round).
func ClaimAll(t testing.TB, svc *service.Service) []service.BMPOp {
	t.Helper()
	ctx := context.Background()
	bmps, err := svc.BMPs(ctx)
	if err != nil {
		t.Fatalf("list BMPs: %v", err)
	}
	var all []service.BMPOp
	for _, b := range bmps {
		ops, err := svc.ClaimBMPOps(ctx, b.ID)
		if err != nil {
			t.Fatalf("claim BMP operations: %v", err)
		}
		all = append(all, ops...)
	}
	return all
}
