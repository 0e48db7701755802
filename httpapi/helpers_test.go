package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// testConfig: machine "spin" of 2 x 1 triads (6 board slots, board
// (1, 0, 2) dead, link east of (0, 0, 0) dead) and a single-board machine
// "solo" tagged "single". No fake BMPs: tests complete BMP operations
// themselves (env.completeOps).
const testConfig = `
[[machine]]
name = "spin"
tags = ["default"]
width = 2
height = 1
dead_boards = [[1, 0, 2]]
dead_links = [[0, 0, 0, "east"]]
standard_ips = { base_ip = "10.9.0.0" }
boards = [
  { xyz = [0, 0, 0], cfb = [0, 0, 0] },
  { xyz = [0, 0, 1], cfb = [0, 0, 1] },
  { xyz = [0, 0, 2], cfb = [0, 0, 2] },
  { xyz = [1, 0, 0], cfb = [0, 0, 3] },
  { xyz = [1, 0, 1], cfb = [0, 0, 4] },
]

[[machine]]
name = "solo"
tags = ["single"]
single_board = { bmp_ip = "10.8.0.0", spinnaker_ip = "10.8.0.1" }
`

const testToken = "s3cret-admin-token"

// fakeClock is the service clock of the tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a real service on a real SQLite file behind the real handler.
type env struct {
	t       *testing.T
	ctx     context.Context
	svc     *service.Service
	srv     *httptest.Server
	clock   *fakeClock
	reg     *prometheus.Registry
	metrics *Metrics
	dbPath  string
}

type envOption func(*Options)

func withToken(tok string) envOption {
	return func(o *Options) { o.Tokens = operatorToken(tok) }
}

// operatorToken is a token set of one token, tok, named as an unnamed
// admin_token is ("operator").
func operatorToken(tok string) *Tokens {
	if tok == "" {
		return NewTokens(nil)
	}
	return NewTokens([]config.NamedToken{{Name: config.UnnamedTokenName, Token: tok}})
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}}
	e.dbPath = filepath.Join(t.TempDir(), "spalloc.db")
	e.open()
	cfg, err := config.Parse([]byte(testConfig), "")
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	if _, err := e.svc.ApplyConfig(e.ctx, cfg); err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}
	e.serve(opts...)
	return e
}

func (e *env) open() {
	e.t.Helper()
	svc, err := service.Open(e.ctx, service.Options{DBPath: e.dbPath, Clock: e.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatalf("service.Open: %v", err)
	}
	e.svc = svc
	e.t.Cleanup(func() { svc.Close() })
}

func (e *env) serve(opts ...envOption) {
	e.t.Helper()
	e.reg = prometheus.NewRegistry()
	m, err := NewMetrics(e.reg, e.svc, MetricsOptions{Commands: []string{"create_job", "get_job_state"}})
	if err != nil {
		e.t.Fatalf("NewMetrics: %v", err)
	}
	e.metrics = m
	observing, stopObserving := context.WithCancel(e.ctx)
	observed := make(chan struct{})
	allocs := e.svc.Subscribe()
	go func() {
		defer close(observed)
		m.ObserveAllocations(observing, allocs)
	}()
	e.t.Cleanup(func() {
		stopObserving()
		<-observed
	})
	done := make(chan struct{})
	o := Options{Tokens: operatorToken(testToken), Version: "9.8.7", Registry: e.reg, Metrics: m, Done: done}
	for _, f := range opts {
		f(&o)
	}
	e.srv = httptest.NewServer(New(e.svc, o))
	srv := e.srv
	e.t.Cleanup(func() {
		close(done)
		srv.Close()
	})
}

// restart closes the service and opens it again on the same database, with
// a fresh handler.
func (e *env) restart() {
	e.t.Helper()
	e.srv.Close()
	if err := e.svc.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.open()
	e.serve()
}

// createJob creates a job through the service as a protocol client would.
func (e *env) createJob(owner string, shape service.Shape, machine string) int64 {
	e.t.Helper()
	keep := 60.0
	req := service.CreateJobRequest{Owner: owner, Keepalive: &keep, Shape: shape, Host: "127.0.0.1",
		Args: json.RawMessage(`[]`), Kwargs: json.RawMessage(`{}`)}
	if machine != "" {
		req.Machine = &machine
	}
	id, err := e.svc.CreateJob(e.ctx, req)
	if err != nil {
		e.t.Fatalf("CreateJob: %v", err)
	}
	return id
}

// completeOps plays every BMP: claims all open operations and reports them
// done (or failed with failErr for boards in fail), until none are left.
func (e *env) completeOps() int {
	e.t.Helper()
	n := 0
	for round := 0; round < 20; round++ {
		bmps, err := e.svc.BMPs(e.ctx)
		if err != nil {
			e.t.Fatalf("BMPs: %v", err)
		}
		did := 0
		for _, b := range bmps {
			ops, err := e.svc.ClaimBMPOps(e.ctx, b.ID)
			if err != nil {
				e.t.Fatalf("ClaimBMPOps: %v", err)
			}
			if len(ops) == 0 {
				continue
			}
			res := make([]service.OpResult, len(ops))
			for i, op := range ops {
				res[i] = service.OpResult{OpID: op.ID}
			}
			if err := e.svc.CompleteBMPOps(e.ctx, res); err != nil {
				e.t.Fatalf("CompleteBMPOps: %v", err)
			}
			did += len(ops)
		}
		if did == 0 {
			return n
		}
		n += did
	}
	e.t.Fatalf("BMP operations keep coming after 20 rounds")
	return n
}

// response is a finished HTTP exchange.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("reply is not JSON (%v): %s", err, r.body)
	}
}

// errorMsg returns the "error" of an error reply, failing if it has none.
func (r response) errorMsg(t *testing.T) string {
	t.Helper()
	var b struct {
		Error *string `json:"error"`
	}
	r.json(t, &b)
	if b.Error == nil || *b.Error == "" {
		t.Fatalf("status %d reply has no error message: %s", r.code, r.body)
	}
	return *b.Error
}

// do sends a request; token "" sends no Authorization header.
func (e *env) do(method, path, body, token string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read reply: %v", err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: data}
}

func (e *env) get(path string) response { return e.do(http.MethodGet, path, "", "") }

// getJSON gets path, requires 200 and decodes the reply into v.
func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	r := e.get(path)
	if r.code != http.StatusOK {
		e.t.Fatalf("GET %s: status %d: %s", path, r.code, r.body)
	}
	r.json(e.t, v)
}

// admin sends an authorised mutation.
func (e *env) admin(method, path, body string) response {
	e.t.Helper()
	return e.do(method, path, body, testToken)
}

func mustJSON(v any) string {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	return buf.String()
}
