//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/tcpserver"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 100000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := q * 100000 * float64(time.Microsecond)
		got := float64(h.quantile(q))
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("p%.0f = %v, want %v within 1%%", q*100, time.Duration(got), time.Duration(want))
		}
	}
	if h.quantile(1) != 100*time.Millisecond || time.Duration(h.max) != 100*time.Millisecond {
		t.Errorf("max %v, p100 %v, want 100ms", time.Duration(h.max), h.quantile(1))
	}
	var small histogram
	small.add(42)
	if small.quantile(0.5) != 42 {
		t.Errorf("one sample of 42ns: p50 %v", small.quantile(0.5))
	}
	var merged histogram
	merged.merge(&h)
	merged.merge(&small)
	if merged.n != h.n+1 || merged.max != h.max {
		t.Errorf("merged %d samples max %d", merged.n, merged.max)
	}
}

func TestReadingReplies(t *testing.T) {
	tests := []struct {
		line  string
		kind  lineKind
		value string
	}{
		{`{"return":7}`, lineReturn, "7}"},
		{`{"return": null}`, lineReturn, "null}"},
		{` { "exception" : "no"}`, lineException, `"no"}`},
		{`{"jobs_changed":[1,2]}`, lineNotification, "[1,2]}"},
		{`{"machines_changed":["m"]}`, lineNotification, `["m"]}`},
		{`{"returned":1}`, lineOther, ""},
		{`[1]`, lineOther, ""},
	}
	for _, tt := range tests {
		kind, val := classify([]byte(tt.line))
		if kind != tt.kind || string(val) != tt.value {
			t.Errorf("%s: kind %d value %q, want %d %q", tt.line, kind, val, tt.kind, tt.value)
		}
	}
	if st, ok := fieldInt([]byte(`{"state": 3, "power": true}`), "state"); !ok || st != 3 {
		t.Errorf("state %d %v", st, ok)
	}
	if _, ok := fieldInt([]byte(`{"power": true}`), "state"); ok {
		t.Error("found a state that is not there")
	}
	for line, want := range map[string]bool{
		`{"jobs_changed": [4, 12, 120]}`: true,
		`{"jobs_changed":[120]}`:         false,
		`{"jobs_changed":[1,12]}`:        true,
		`{"machines_changed":["12"]}`:    false,
	} {
		if mentions([]byte(line), 12) != want {
			t.Errorf("%s mentions 12: want %v", line, want)
		}
	}
}

// script feeds a session lines and collects what it sends.
type script struct {
	t   *testing.T
	s   session
	now time.Duration
}

func (sc *script) feed(line string) string {
	sc.t.Helper()
	sc.now += time.Millisecond
	out, err := sc.s.line([]byte(line), sc.now, nil)
	if err != nil {
		sc.t.Fatalf("%s: %v", line, err)
	}
	return string(out)
}

func expectSent(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) || (want == "" && got != "") {
		t.Fatalf("sent %q, want %q", got, want)
	}
}

func TestChurnSession(t *testing.T) {
	rec := &recorder{to: time.Hour}
	s := &churnSession{rec: rec, create: createLine("me", ""), waitReady: true}
	sc := &script{t: t, s: s}
	expectSent(t, string(s.begin(0, nil)), `"create_job"`)
	expectSent(t, sc.feed(`{"return":7}`), `"notify_job", "args": [7]`)
	expectSent(t, sc.feed(`{"return":null}`), `"get_job_state", "args": [7]`)
	expectSent(t, sc.feed(`{"return":{"state":2,"power":true}}`), "") // wait for a notification
	expectSent(t, sc.feed(`{"jobs_changed":[8]}`), "")                // not ours
	expectSent(t, sc.feed(`{"jobs_changed":[7]}`), `"get_job_state", "args": [7]`)
	// A notification while the state request is out: ask again at once.
	expectSent(t, sc.feed(`{"jobs_changed":[7]}`), "")
	expectSent(t, sc.feed(`{"return":{"state":2,"power":true}}`), `"get_job_state", "args": [7]`)
	expectSent(t, sc.feed(`{"return":{"state":3,"power":true}}`), `"destroy_job", "args": [7, `)
	expectSent(t, sc.feed(`{"return":null}`), `"create_job"`)
	if n := rec.hist[cmdCycle].n; n != 1 {
		t.Fatalf("%d cycles recorded", n)
	}
	if n := rec.hist[cmdGetJobState].n; n != 3 {
		t.Fatalf("%d get_job_state recorded", n)
	}
	// Stopping lets the cycle in progress finish, then nothing more.
	s.stop()
	expectSent(t, sc.feed(`{"return":9}`), `"notify_job", "args": [9]`)
	expectSent(t, sc.feed(`{"return":null}`), `"get_job_state"`)
	expectSent(t, sc.feed(`{"return":{"state":3}}`), `"destroy_job", "args": [9, `)
	expectSent(t, sc.feed(`{"return":null}`), "")
	if !s.done() {
		t.Fatal("not done after the last cycle")
	}
	if _, err := s.line([]byte(`{"return":null}`), sc.now, nil); err == nil {
		t.Fatal("a reply with nothing outstanding was accepted")
	}
}

func TestMixedSessionCleansUp(t *testing.T) {
	rec := &recorder{to: time.Hour}
	s := &mixedSession{rec: rec, create: createLine("me", ""), rng: 1}
	sc := &script{t: t, s: s}
	expectSent(t, string(s.begin(0, nil)), `"create_job"`)
	next := sc.feed(`{"return":5}`)
	// Answer whatever comes until a short job is created.
	for i := 0; !strings.Contains(next, `"create_job"`); i++ {
		if i > 1000 {
			t.Fatal("no create_job in 1000 requests")
		}
		next = sc.feed(`{"return":null}`)
	}
	expectSent(t, sc.feed(`{"return":6}`), `"destroy_job", "args": [6, `)
	s.stop()
	expectSent(t, sc.feed(`{"return":null}`), `"destroy_job", "args": [5, `)
	expectSent(t, sc.feed(`{"return":null}`), "")
	if !s.done() {
		t.Fatal("not done after destroying its job")
	}
}

// The workloads against the real server, service and BMP workers: every
// request is answered without exception and the tool's jobs are gone at
// the end.
func TestWorkloadsAgainstServer(t *testing.T) {
	svc := testutil.NewService(t, testutil.GridTOML(testutil.Grid{Name: "g", Width: 2, Height: 2}))
	testutil.StartBMPs(t, svc, testutil.BMPOptions{})
	srv := tcpserver.New(svc.Service, tcpserver.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		<-served
	})
	cfg := config{addr: ln.Addr().String(), loops: 2, owner: "bench-test", drain: 30 * time.Second, depth: 2}
	ctx := context.Background()

	noJobsLeft := func(t *testing.T) {
		t.Helper()
		jobs, err := svc.ListJobs(ctx)
		if err != nil || len(jobs) != 0 {
			t.Fatalf("jobs left: %+v %v", jobs, err)
		}
	}
	var loops []*loop // of the last run
	run := func(t *testing.T, n int, newSession sessionFunc, stopAfter time.Duration) *recorder {
		t.Helper()
		clk := newClock()
		var recs []*recorder
		var err error
		loops, recs, err = connect(cfg, n, clk, newSession)
		if err != nil {
			t.Fatal(err)
		}
		stop := clk.now() + stopAfter
		rec, err := drive(ctx, loops, recs, runPlan{clk: clk, stopAt: stop, drainBy: stop + cfg.drain, abort: &atomic.Bool{}})
		if err != nil {
			t.Fatal(err)
		}
		for k := range numCmds {
			if rec.errors[k] != 0 {
				t.Fatalf("%d exceptions to %s: %s", rec.errors[k], k, rec.lastErr)
			}
		}
		return rec
	}
	forever := time.Duration(1 << 62)

	t.Run("churn", func(t *testing.T) {
		create := createLine(cfg.owner, "")
		rec := run(t, 3, func(_ int, rec *recorder) session {
			return &churnSession{rec: rec, create: create, waitReady: true, limit: 4}
		}, forever)
		if got := rec.hist[cmdCycle].n; got != 12 {
			t.Fatalf("%d cycles, want 12", got)
		}
		noJobsLeft(t)
	})
	t.Run("history", func(t *testing.T) {
		cfg := cfg
		cfg.conns, cfg.jobs = []int{3}, 10
		if err := makeHistory(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		noJobsLeft(t)
	})
	t.Run("poll", func(t *testing.T) {
		id, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "me", Shape: service.Shape{Kind: service.ShapeOneBoard}})
		if err != nil {
			t.Fatal(err)
		}
		lines, cmds := pollLines("poll", id)
		rec := run(t, 4, func(_ int, rec *recorder) session {
			return &pollSession{rec: rec, lines: lines, cmds: cmds, depth: cfg.depth}
		}, 100*time.Millisecond)
		if rec.hist[cmdGetJobState].n == 0 || rec.hist[cmdKeepalive].n == 0 {
			t.Fatalf("get_job_state %d, job_keepalive %d answered", rec.hist[cmdGetJobState].n, rec.hist[cmdKeepalive].n)
		}
		// Every connection was served, and the counts add up to what
		// the report calls all requests.
		mm := perConn(loops)
		if mm == nil || mm[0] == 0 || mm[1] < mm[0] {
			t.Fatalf("requests per connection (fewest, most): %v", mm)
		}
		var sum int64
		for _, l := range loops {
			for _, c := range l.conns {
				sum += c.sess.(*pollSession).completed
			}
		}
		if want := int64(rec.hist[cmdGetJobState].n + rec.hist[cmdKeepalive].n); sum != want {
			t.Fatalf("connections completed %d requests, the recorder %d", sum, want)
		}
		if err := svc.DestroyJob(ctx, id, nil, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		create := createLine(cfg.owner, "")
		rec := run(t, 4, func(i int, rec *recorder) session {
			return &mixedSession{rec: rec, create: create, rng: uint64(i) + 1}
		}, 300*time.Millisecond)
		var total uint64
		for k := range numCmds {
			total += rec.hist[k].n
		}
		if total < 8 {
			t.Fatalf("only %d requests answered", total)
		}
		noJobsLeft(t)
	})
	t.Run("machine CPU", func(t *testing.T) {
		// The machine has been busy since boot: zero means /proc/stat
		// was not understood.
		if m := machineCPU(); m.busy <= 0 || m.steal < 0 {
			t.Fatalf("machine CPU times %+v", m)
		}
	})
	t.Run("summary", func(t *testing.T) {
		rec := &recorder{to: time.Hour}
		rec.done(cmdGetJobState, 0, time.Millisecond, false)
		rec.done(cmdGetJobState, 0, 3*time.Millisecond, true)
		res := summarize(config{op: "get_job_state", duration: time.Second, depth: 1}, 1, rec)
		if res.Requests != 2 || res.Errors != 1 || len(res.Commands) != 1 || res.Commands[0].Command != "get_job_state" {
			t.Fatalf("summary %+v", res)
		}
		if got := fmt.Sprintf("%.0f", res.Commands[0].Max); got != "3" {
			t.Fatalf("max %s ms, want 3", got)
		}
	})
}

// The commands the bench sends are v1 commands of the server.
func TestCommandNamesAreTheServers(t *testing.T) {
	for k := range numCmds {
		if k != cmdCycle && !slices.Contains(tcpserver.Commands(), k.String()) {
			t.Errorf("the bench's command %q is not a v1 command of the server (%v)", k, tcpserver.Commands())
		}
	}
}
