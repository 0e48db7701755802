package service_test

// Behaviour cases JOB (life cycle) and the job parts of PROTO-04..06.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func (e *env) wantPower(id int64, state service.JobState, power bool) {
	e.t.Helper()
	st := e.status(id)
	if st.State != state || st.Power == nil || *st.Power != power {
		e.t.Fatalf("job %d: %+v (power %v), want %v with power %v", id, st, ptrStr(st.Power), state, power)
	}
}

func ptrStr[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestJOB01AllocationGoesThroughPowerToReady(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one(), keepalive(123))
	st := e.status(id)
	if st.State != service.StatePower || st.Power == nil || !*st.Power || st.Keepalive == nil || *st.Keepalive != 123*time.Second || st.Reason != nil {
		t.Fatalf("after create: %+v", st)
	}
	e.finish()
	e.wantPower(id, service.StateReady, true)
	if k := e.status(id).Keepalive; k == nil || *k != 123*time.Second {
		t.Fatalf("keepalive %v", k)
	}
}

// opKinds claims one round of operations and counts them by kind.
func (e *env) opKinds() (map[service.OpKind]int, []service.BMPOp) {
	e.t.Helper()
	ops := testutil.ClaimAll(e.t, e.Service.Service)
	kinds := map[service.OpKind]int{}
	for _, op := range ops {
		kinds[op.Kind]++
	}
	return kinds, ops
}

// linksOff counts the links that the link-disable operations switch (one
// operation per board).
func linksOff(ops []service.BMPOp) int {
	n := 0
	for _, op := range ops {
		if op.Kind == service.OpLinkOff {
			n += len(op.Links)
		}
	}
	return n
}

func (e *env) completeOps(ops []service.BMPOp, err error) {
	e.t.Helper()
	res := make([]service.OpResult, len(ops))
	for i, op := range ops {
		res[i] = service.OpResult{OpID: op.ID, Err: err}
	}
	if err := e.CompleteBMPOps(e.ctx, res); err != nil {
		e.t.Fatal(err)
	}
}

// JOB-02 with BMP-05 and BMP-06: what each power command sends.
func TestJOB02PowerOffAndOn(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 2)))
	id := e.create(one())
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOn] != 1 || kinds[service.OpLinkOff] != 1 || linksOff(ops) != 6 || len(ops) != 2 {
		t.Fatalf("allocation sent %v with %d links disabled", kinds, linksOff(ops))
	}
	if ops[0].Kind != service.OpPowerOn {
		t.Fatalf("first operation %v, want power before links", ops[0].Kind)
	}
	e.completeOps(ops, nil)
	before := e.info(id)

	if err := e.PowerOffJob(e.ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	e.wantPower(id, service.StatePower, false)
	kinds, ops = e.opKinds()
	if kinds[service.OpPowerOff] != 1 || len(ops) != 1 {
		t.Fatalf("power off sent %v", kinds)
	}
	e.completeOps(ops, nil)
	e.wantPower(id, service.StateReady, false)
	if after := e.info(id); !sameBoards(after.Boards, before.Boards) || after.Width != before.Width {
		t.Fatalf("machine info changed: %+v -> %+v", before, after)
	}

	if err := e.PowerOnJob(e.ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	e.wantPower(id, service.StatePower, true)
	kinds, ops = e.opKinds()
	if kinds[service.OpPowerOn] != 1 || kinds[service.OpLinkOff] != 1 || linksOff(ops) != 6 || len(ops) != 2 {
		t.Fatalf("power on sent %v with %d links disabled", kinds, linksOff(ops))
	}
	e.completeOps(ops, nil)
	e.wantPower(id, service.StateReady, true)
	e.consistent()
}

func TestBMP06DestroySendsPowerOffOnly(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 2)))
	id := e.create(rect(1, 2))
	queued := e.create(rect(1, 2))
	e.finish()
	e.destroy(queued)
	if kinds, ops := e.opKinds(); len(ops) != 0 {
		t.Fatalf("destroying a queued job sent %v", kinds)
	}
	e.destroy(id)
	kinds, ops := e.opKinds()
	if kinds[service.OpPowerOff] != 6 || len(ops) != 6 {
		t.Fatalf("destroy sent %v", kinds)
	}
	bmps := map[int64]int{}
	for _, op := range ops {
		bmps[op.BMPID]++
	}
	if len(bmps) != 2 {
		t.Fatalf("power-offs went to %d BMPs, want one per frame (2)", len(bmps))
	}
}

func TestJOB03CommandsOnQueuedAndUnknownJobs(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	e.create(rect(1, 1))
	q := e.create(rect(1, 1))
	for _, f := range []func(context.Context, int64, string) error{e.PowerOnJob, e.PowerOffJob} {
		if err := f(e.ctx, q, ""); err != nil {
			t.Fatal(err)
		}
		if st := e.status(q); st.State != service.StateQueued || st.Power != nil {
			t.Fatalf("queued job after power command: %+v", st)
		}
	}
	if e.info(q) != nil {
		t.Fatal("machine info of a queued job is not null")
	}
	for _, f := range []func(context.Context, int64, string) error{e.PowerOnJob, e.PowerOffJob, e.Keepalive} {
		if err := f(e.ctx, 999, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.DestroyJob(e.ctx, 999, nil, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.status(999); st != (service.JobStatus{State: service.StateUnknown}) {
		t.Fatalf("unknown job: %+v", st)
	}
	if e.info(999) != nil {
		t.Fatal("machine info of an unknown job is not null")
	}
}

func TestJOB04DestroyReasons(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a, b := e.create(rect(1, 1)), e.create(rect(1, 1))
	q := e.create(rect(1, 1))
	e.destroy(a, "Because you too.")
	e.destroy(b)
	e.destroy(q, "Because.")
	e.wantDestroyed(a, "Because you too.")
	if st := e.status(b); st.State != service.StateDestroyed || st.Reason != nil {
		t.Fatalf("destroyed without reason: %+v", st)
	}
	e.wantDestroyed(q, "Cancelled: Because.")
	for _, id := range []int64{a, b, q} {
		st := e.status(id)
		if st.Power != nil || st.Keepalive != nil || st.StartTime != nil || st.KeepaliveHost != nil || e.info(id) != nil {
			t.Fatalf("destroyed job %d still has %+v", id, st)
		}
	}
	e.destroy(a, "second")
	e.wantDestroyed(a, "Because you too.")
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != 0 {
		t.Fatalf("destroyed jobs listed: %+v", jobs)
	}
}

func TestJOB05Keepalive(t *testing.T) {
	touches := map[string]func(e *env, id int64){
		"get_job_state":        func(e *env, id int64) { e.JobState(e.ctx, id, "h") },
		"get_job_machine_info": func(e *env, id int64) { e.JobMachineInfo(e.ctx, id, "h") },
		"job_keepalive":        func(e *env, id int64) { e.Keepalive(e.ctx, id, "h") },
		"power_on_job_boards":  func(e *env, id int64) { e.PowerOnJob(e.ctx, id, "h") },
		"where_is by job": func(e *env, id int64) {
			q := jobChipQ(id, 0, 0)
			q.Host = "h"
			e.WhereIs(e.ctx, q)
		},
	}
	for name, touch := range touches {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
			id := e.create(one(), keepalive(0.5))
			for range 6 {
				e.Clock.Advance(150 * time.Millisecond)
				touch(e, id)
				e.tick()
			}
			e.wantState(id, service.StatePower)
			e.Clock.Advance(600 * time.Millisecond)
			e.tick()
			e.wantDestroyed(id, service.ReasonTimedOut)
			e.Keepalive(e.ctx, id, "h")
			e.wantDestroyed(id, service.ReasonTimedOut)
		})
	}
}

func (e *env) tick() {
	e.t.Helper()
	if err := e.Tick(e.ctx); err != nil {
		e.t.Fatalf("tick: %v", err)
	}
}

func TestJOB05WhatDoesNotCountAsKeepalive(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(rect(1, 1), keepalive(0.5))
	forever := e.create(one(), noKeepalive())
	queued := e.create(rect(1, 1), keepalive(0.5))
	for range 6 {
		e.Clock.Advance(150 * time.Millisecond)
		e.ListJobs(e.ctx)
		e.WhereIs(e.ctx, chipQ("m", 0, 0))
		e.tick()
	}
	e.wantDestroyed(id, service.ReasonTimedOut)
	e.wantDestroyed(queued, "Cancelled: "+service.ReasonTimedOut)
	e.Clock.Advance(time.Hour)
	e.tick()
	if e.state(forever) == service.StateDestroyed {
		t.Fatal("a job without keepalive timed out")
	}
	if k := e.status(forever).Keepalive; k != nil {
		t.Fatalf("keepalive %v, want null", *k)
	}
}

func TestJOB06ForgettingOldDestroyedJobs(t *testing.T) {
	e := newEnv(t, "[server]\nretain_destroyed = 2\n")
	for range 4 {
		e.create(one())
	}
	states := func() []service.JobState {
		var out []service.JobState
		for id := int64(1); id <= 4; id++ {
			out = append(out, e.state(id))
		}
		return out
	}
	want := func(w ...service.JobState) {
		t.Helper()
		if got := states(); !equalStates(got, w) {
			t.Fatalf("states %v, want %v", got, w)
		}
	}
	want(0, 0, 4, 4)
	if e.reason(3) != nsma {
		t.Fatalf("job 3 reason %q", e.reason(3))
	}
	e.Apply(t, "[server]\nretain_destroyed = 1\n")
	want(0, 0, 0, 4)
	cfg := testutil.ParseConfig(t, "[server]\nretain_destroyed = 1\n")
	cfg.Server.RetainDestroyed = -1 // keep none (not expressible in the file)
	if _, err := e.ApplyConfig(e.ctx, cfg); err != nil {
		t.Fatal(err)
	}
	want(0, 0, 0, 0)
	e.wantState(e.create(one()), service.StateUnknown)
}

func equalStates(a, b []service.JobState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJOB07JobSizeInChips(t *testing.T) {
	cases := []struct {
		w, h   int
		shape  service.Shape
		cw, ch int
		boards int
	}{
		{2, 3, one(), 8, 8, 1},
		{2, 3, nb(1), 8, 8, 1},
		{2, 3, board(1, 0, 2), 8, 8, 1},
		{2, 3, nb(3), 16, 16, 3},
		{2, 3, rect(1, 1), 16, 16, 3},
		{2, 3, rect(2, 1), 24, 16, 6},
		{2, 3, nb(4), 24, 16, 6},
		{2, 3, rect(1, 3), 16, 36, 9},
		{2, 3, rect(2, 3), 24, 36, 18},
		{1, 2, rect(1, 1), 12, 16, 3},
		{1, 1, rect(1, 1), 12, 12, 3},
	}
	envs := map[[2]int]*env{}
	for _, c := range cases {
		e := envs[[2]int{c.w, c.h}]
		if e == nil {
			e = newEnv(t, testutil.GridTOML(grid("m", c.w, c.h)))
			envs[[2]int{c.w, c.h}] = e
		}
		id := e.create(c.shape)
		info := e.info(id)
		e.destroyAndFree(id)
		if info.Width != c.cw || info.Height != c.ch || len(info.Boards) != c.boards {
			t.Errorf("%dx%d %+v: %dx%d chips, %d boards; want %dx%d, %d", c.w, c.h, c.shape,
				info.Width, info.Height, len(info.Boards), c.cw, c.ch, c.boards)
		}
	}
}

func TestJOB08ConnectionsRelativeToOrigin(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 3)))
	id := e.create(rect(1, 1))
	info := e.info(id)
	x, y := info.Boards[0].X, info.Boards[0].Y
	want := map[service.Connection]bool{
		{ChipX: 0, ChipY: 0, Hostname: ip(x, y, 0)}: true,
		{ChipX: 8, ChipY: 4, Hostname: ip(x, y, 1)}: true,
		{ChipX: 4, ChipY: 8, Hostname: ip(x, y, 2)}: true,
	}
	for _, c := range info.Connections {
		if !want[c] {
			t.Fatalf("connections %+v", info.Connections)
		}
	}
	single := e.info(e.create(board(1, 2, 1)))
	if len(single.Connections) != 1 || single.Connections[0] != (service.Connection{Hostname: "11.1.2.1"}) ||
		!sameBoards(single.Boards, []geometry.Board{{X: 1, Y: 2, Z: 1}}) {
		t.Fatalf("single board: %+v", single)
	}
}

func ip(x, y, z int) string {
	return "11." + itoa(x) + "." + itoa(y) + "." + itoa(z)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

var errBMP = errors.New("Requests failed on BMP 10.1.0.0")

// JOB-09 as spallocd does it: failed boards go out of service and the job
// goes back to the queue; when nothing can hold it any more it is destroyed.
func TestJOB09BMPFailure(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	id := e.create(one())
	testutil.FailAllOps(t, e.Service.Service, errBMP)
	e.wantDestroyed(id, service.ReasonConfigFailed)
	ms, _ := e.ListMachines(e.ctx)
	if len(ms[0].DeadBoards) != 3 {
		t.Fatalf("out-of-service boards listed as dead: %v", ms[0].DeadBoards)
	}
	e.wantDestroyed(e.create(one()), nsma)
	e.consistent()
}

// jobWithASickBoard creates a 1x1-triad job and completes its BMP
// operations, every one failing with errBMP on its second board.
func (e *env) jobWithASickBoard() (id int64, sick geometry.Board) {
	e.t.Helper()
	id = e.create(rect(1, 1))
	sick = e.boards(id)[1]
	testutil.FinishOps(e.t, e.Service.Service, func(op service.BMPOp) error {
		if op.Board == sick {
			return errBMP
		}
		return nil
	})
	return id, sick
}

func TestJOB09JobSurvivesASickBoard(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	id, sick := e.jobWithASickBoard()
	e.wantState(id, service.StateReady)
	for _, b := range e.boards(id) {
		if b.X == sick.X {
			t.Fatalf("job %d got the sick board's triad again: %v", id, e.boards(id))
		}
	}
	ms, _ := e.ListMachines(e.ctx)
	if !contains(ms[0].DeadBoards, sick) {
		t.Fatalf("sick board %v not out of service: %v", sick, ms[0].DeadBoards)
	}
	e.consistent()
}

func TestJOB10RestartKeepsJobsAndRestartsKeepaliveClocks(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	j1 := e.create(one(), keepalive(0.6))
	j2 := e.create(rect(1, 1), noKeepalive())
	e.finish()
	e.Clock.Advance(time.Second)
	e.Restart(t)
	e.tick()
	if got := e.peek(j1); got != service.StateReady {
		t.Fatalf("job 1 after restart: %v", got)
	}
	if got := e.peek(j2); got != service.StateQueued {
		t.Fatalf("job 2 after restart: %v", got)
	}
	e.Clock.Advance(500 * time.Millisecond)
	e.tick()
	if got := e.peek(j1); got != service.StateReady {
		t.Fatalf("job 1 0.5 s after restart: %v", got)
	}
	e.Clock.Advance(200 * time.Millisecond)
	e.tick()
	e.wantDestroyed(j1, service.ReasonTimedOut)
	e.wantState(j2, service.StateQueued)
	e.finish()
	e.wantState(j2, service.StateReady)
	if id := e.create(one()); id != 3 {
		t.Fatalf("next id %d, want 3", id)
	}
	e.consistent()

	lock, err := db.LockDatabase(e.DBPath) // as the daemon does for --cold-start
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.RemoveDatabase(); err != nil {
		t.Fatal(err)
	}
	cold := testutil.NewService(t, "", testutil.WithOptions(func(o *service.Options) { o.DBPath = e.DBPath }))
	if st, _ := cold.JobState(e.ctx, j2, ""); st.State != service.StateUnknown {
		t.Fatalf("after cold start job %d is %v", j2, st.State)
	}
}

// peek reads a live job's state without counting as a keepalive.
func (e *env) peek(id int64) service.JobState {
	e.t.Helper()
	jobs, err := e.ListJobs(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, j := range jobs {
		if j.ID == id {
			return j.State
		}
	}
	return service.StateUnknown
}

func TestJOB11IdsAreUniqueAndIssuedToCancelledJobs(t *testing.T) {
	g := grid("m", 1, 2)
	g.Scale = 10
	e := newEnv(t, testutil.GridTOML(g))
	if id := e.create(one(), tags("default")); id != 1 {
		t.Fatalf("id %d", id)
	}
	if id := e.create(rect(1, 2), torus()); id != 2 || e.state(2) != service.StateQueued {
		t.Fatalf("id %d state %v", id, e.state(2))
	}
	if id := e.create(rect(2, 2)); id != 3 {
		t.Fatalf("id %d", id)
	}
	e.wantDestroyed(3, nsma)
}

// PROTO-04 and PROTO-06 as far as the service decides them.
func TestJobStateAndListShapes(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 2)))
	t0 := testutil.Epoch
	j1, err := e.CreateJob(e.ctx, service.CreateJobRequest{Owner: "me", Keepalive: ptrTo(60.0), Shape: one(),
		Tags: []string{"default"}, Args: json.RawMessage(`[]`), Kwargs: json.RawMessage(`{"tags":["default"]}`), Host: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	j2 := e.create(rect(1, 2), torus())
	e.finish()
	e.Keepalive(e.ctx, j2, "127.0.0.1")
	st := e.status(j1)
	if st.State != service.StateReady || !*st.Power || *st.Keepalive != time.Minute || !st.StartTime.Equal(t0) || *st.KeepaliveHost != "10.0.0.1" {
		t.Fatalf("job 1: %+v", st)
	}
	st = e.status(j2)
	if st.State != service.StateQueued || st.Power != nil || *st.KeepaliveHost != "127.0.0.1" {
		t.Fatalf("job 2: %+v", st)
	}
	jobs, _ := e.ListJobs(e.ctx)
	if len(jobs) != 2 || jobs[0].ID != j1 || string(jobs[0].Kwargs) != `{"tags":["default"]}` || string(jobs[0].Args) != "[]" ||
		*jobs[0].MachineName != "m" || len(jobs[0].Boards) != 1 || jobs[0].KeepaliveHost != "10.0.0.1" {
		t.Fatalf("list: %+v", jobs)
	}
	if jobs[1].MachineName != nil || jobs[1].Boards != nil || jobs[1].Power != nil {
		t.Fatalf("queued job listed as %+v", jobs[1])
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestInvalidRequestsCreateNothing(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	cases := map[string]struct {
		req service.CreateJobRequest
		msg string
	}{
		"no owner":       {request(one(), owner("")), "owner must be specified for all jobs"},
		"machine+tags":   {request(one(), onMachine("m"), tags("a")), "Only one of machine and tags may be specified for a job."},
		"torus single":   {request(one(), torus()), "require_torus must be False when allocating boards."},
		"negative ratio": {request(nb(4), minRatio(-1)), "Aspect ratio cannot be negative."},
		"negative dead":  {request(nb(4), maxDeadBoards(-1)), "max_dead_boards cannot be negative."},
		"negative links": {request(nb(4), maxDeadLinks(-2)), "max_dead_links cannot be negative."},
		"negative ka":    {request(one(), keepalive(-1)), "keepalive must be a non-negative number of seconds, at most 3153600000, or null"},
		"endless ka":     {request(one(), keepalive(4e9)), "keepalive must be a non-negative number of seconds, at most 3153600000, or null"},
		"long owner": {request(one(), owner(strings.Repeat("é", 129))),
			"owner must be at most 256 bytes long, not 258"},
	}
	for name, c := range cases {
		_, err := e.CreateJob(e.ctx, c.req)
		if service.KindOf(err) != service.KindInvalid || service.UserMessage(err) != c.msg {
			t.Errorf("%s: %v, want %q", name, err, c.msg)
		}
	}
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != 0 {
		t.Fatalf("jobs created: %+v", jobs)
	}
	id := e.create(one(), owner(strings.Repeat("o", service.MaxOwnerBytes)))
	if e.state(id) != service.StatePower || id != 1 {
		t.Fatalf("a job with a %d-byte owner is job %d, %v; want job 1 (invalid requests take no id)", service.MaxOwnerBytes, id, e.state(id))
	}
}

// Run does Tick's work on its own ticker and stops with its context.
func TestRunExpiresKeepalivesAndStops(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)),
		testutil.WithOptions(func(o *service.Options) { o.TickInterval = time.Millisecond }))
	id := e.create(one(), keepalive(1))
	sub := e.Subscribe()
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	e.Clock.Advance(2 * time.Second)
	deadline := time.After(30 * time.Second) // a guard only: the feed says when
	for e.peek(id) != service.StateUnknown {
		select {
		case <-sub.C:
			sub.Take()
		case <-deadline:
			t.Fatal("Run did not expire the job")
		}
	}
	e.wantDestroyed(id, service.ReasonTimedOut)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
