package service_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// env is a service under test with short helpers for the behaviour cases.
type env struct {
	t *testing.T
	*testutil.Service
	ctx context.Context
}

func newEnv(t *testing.T, toml string, opts ...testutil.Option) *env {
	t.Helper()
	return &env{t: t, Service: testutil.NewService(t, toml, opts...), ctx: context.Background()}
}

// grid renders the fixture grid(W,H) of docs/test-cases.md, named name.
func grid(name string, w, h int) testutil.Grid {
	return testutil.Grid{Name: name, Width: w, Height: h}
}

// Shapes of create_job.
func one() service.Shape          { return service.Shape{Kind: service.ShapeOneBoard} }
func nb(n int) service.Shape      { return service.Shape{Kind: service.ShapeNBoards, N: n} }
func rect(w, h int) service.Shape { return service.Shape{Kind: service.ShapeRect, W: w, H: h} }
func board(x, y, z int) service.Shape {
	return service.Shape{Kind: service.ShapeBoard, X: x, Y: y, Z: z}
}

type mod func(*service.CreateJobRequest)

func onMachine(name string) mod { return func(r *service.CreateJobRequest) { r.Machine = &name } }
func tags(ts ...string) mod {
	return func(r *service.CreateJobRequest) { r.Tags = append([]string{}, ts...) }
}
func keepalive(secs float64) mod { return func(r *service.CreateJobRequest) { r.Keepalive = &secs } }
func noKeepalive() mod           { return func(r *service.CreateJobRequest) { r.Keepalive = nil } }
func minRatio(f float64) mod     { return func(r *service.CreateJobRequest) { r.MinRatio = f } }
func maxDeadBoards(n int) mod    { return func(r *service.CreateJobRequest) { r.MaxDeadBoards = &n } }
func maxDeadLinks(n int) mod     { return func(r *service.CreateJobRequest) { r.MaxDeadLinks = &n } }
func torus() mod                 { return func(r *service.CreateJobRequest) { r.RequireTorus = true } }
func owner(o string) mod         { return func(r *service.CreateJobRequest) { r.Owner = o } }
func fromHost(h string) mod      { return func(r *service.CreateJobRequest) { r.Host = h } }
func request(shape service.Shape, mods ...mod) service.CreateJobRequest {
	ka := service.DefaultKeepaliveSecs
	r := service.CreateJobRequest{Owner: "me", Keepalive: &ka, Shape: shape}
	for _, m := range mods {
		m(&r)
	}
	return r
}

// create makes a job, failing the test on error.
func (e *env) create(shape service.Shape, mods ...mod) int64 {
	e.t.Helper()
	id, err := e.CreateJob(e.ctx, request(shape, mods...))
	if err != nil {
		e.t.Fatalf("create_job(%+v): %v", shape, err)
	}
	return id
}

func (e *env) status(id int64) service.JobStatus {
	e.t.Helper()
	st, err := e.JobState(e.ctx, id, "")
	if err != nil {
		e.t.Fatalf("job state %d: %v", id, err)
	}
	return st
}

func (e *env) state(id int64) service.JobState { e.t.Helper(); return e.status(id).State }

func (e *env) wantState(id int64, want service.JobState) {
	e.t.Helper()
	if got := e.state(id); got != want {
		e.t.Fatalf("job %d: state %v, want %v", id, got, want)
	}
}

func (e *env) reason(id int64) string {
	e.t.Helper()
	st := e.status(id)
	if st.Reason == nil {
		return "<nil>"
	}
	return *st.Reason
}

func (e *env) wantDestroyed(id int64, reason string) {
	e.t.Helper()
	st := e.status(id)
	if st.State != service.StateDestroyed || st.Reason == nil || *st.Reason != reason {
		e.t.Fatalf("job %d: %v reason %q, want destroyed with %q", id, st.State, e.reason(id), reason)
	}
}

// finish completes every pending BMP operation successfully.
func (e *env) finish() int { e.t.Helper(); return testutil.CompleteAllOps(e.t, e.Service.Service) }

func (e *env) info(id int64) *service.JobMachineInfo {
	e.t.Helper()
	info, err := e.JobMachineInfo(e.ctx, id, "")
	if err != nil {
		e.t.Fatalf("machine info %d: %v", id, err)
	}
	return info
}

func (e *env) boards(id int64) []geometry.Board {
	e.t.Helper()
	if info := e.info(id); info != nil {
		return info.Boards
	}
	return nil
}

// detail is a machine's operator view (board map, BMPs, drain).
func (e *env) detail(machine string) *service.MachineDetail {
	e.t.Helper()
	md, err := e.MachineDetail(e.ctx, machine)
	if err != nil {
		e.t.Fatalf("machine %s: %v", machine, err)
	}
	return md
}

// machineSummary is a machine's list_machines entry.
func (e *env) machineSummary(machine string) service.MachineSummary {
	e.t.Helper()
	ms, err := e.ListMachines(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == machine {
			return m
		}
	}
	e.t.Fatalf("no machine %q", machine)
	return service.MachineSummary{}
}

func (e *env) machineOf(id int64) string {
	e.t.Helper()
	if info := e.info(id); info != nil {
		return info.MachineName
	}
	return ""
}

func (e *env) destroy(id int64, reason ...string) {
	e.t.Helper()
	var r *string
	if len(reason) > 0 {
		r = &reason[0]
	}
	if err := e.DestroyJob(e.ctx, id, r, ""); err != nil {
		e.t.Fatalf("destroy %d: %v", id, err)
	}
}

// destroyAndFree destroys a job and completes its power-off, so that its
// boards are back in the pool.
func (e *env) destroyAndFree(id int64) {
	e.t.Helper()
	e.destroy(id)
	e.finish()
}

func (e *env) consistent() {
	e.t.Helper()
	problems, err := e.CheckConsistency(e.ctx)
	if err != nil {
		e.t.Fatalf("consistency check: %v", err)
	}
	if len(problems) > 0 {
		e.t.Fatalf("inconsistent: %v", problems)
	}
}

func sameBoards(a, b []geometry.Board) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	less := func(x, y geometry.Board) int {
		if x == y {
			return 0
		}
		if x.Less(y) {
			return -1
		}
		return 1
	}
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}

var nsma = service.CancelledPrefix + service.ReasonNoMachines

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fewerChecksUnderRace runs a tenth of the usual rapid cases under the race
// detector unless -rapid.checks was given.
func fewerChecksUnderRace() {
	if !raceEnabled {
		return
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if !given {
		flag.Set("rapid.checks", "10")
	}
}
