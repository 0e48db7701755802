package tcpserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// fakeBackend stands in for the service in tests of parsing, dispatch and
// framing: it records each call and answers from its fields.
type fakeBackend struct {
	mu    sync.Mutex
	calls []string

	err      error // returned by every method when set
	nextID   int64
	state    service.JobStatus
	info     *service.JobMachineInfo
	jobs     []service.JobSummary
	machines []service.MachineSummary
	pos      *service.Physical
	board    *geometry.Board
	where    *service.WhereIsResult
	created  []service.CreateJobRequest

	panicky   bool // ListMachines panics
	stateByID bool // JobState answers state id%5 and keepalive id

	// When gate is set, JobState signals entered and waits for gate.
	gate    chan struct{}
	entered chan struct{}
}

func (f *fakeBackend) record(format string, a ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
	return f.err
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) CreateJob(_ context.Context, r service.CreateJobRequest) (int64, error) {
	if err := f.record("CreateJob %s", r.Owner); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, r)
	f.nextID++
	return f.nextID, nil
}

func (f *fakeBackend) Keepalive(_ context.Context, id int64, host string) error {
	return f.record("Keepalive %d %s", id, host)
}

func (f *fakeBackend) JobState(ctx context.Context, id int64, host string) (service.JobStatus, error) {
	if f.gate != nil {
		f.entered <- struct{}{}
		select {
		case <-f.gate:
		case <-ctx.Done():
			return service.JobStatus{}, ctx.Err()
		}
	}
	st := f.state
	if f.stateByID {
		// Lets concurrent tests match replies to requests.
		st.State = service.JobState(id % 5)
		st.Keepalive = ptr(time.Duration(id) * time.Second)
	}
	return st, f.record("JobState %d %s", id, host)
}

func (f *fakeBackend) JobMachineInfo(_ context.Context, id int64, host string) (*service.JobMachineInfo, error) {
	return f.info, f.record("JobMachineInfo %d %s", id, host)
}

func (f *fakeBackend) PowerOnJob(_ context.Context, id int64, host string) error {
	return f.record("PowerOnJob %d %s", id, host)
}

func (f *fakeBackend) PowerOffJob(_ context.Context, id int64, host string) error {
	return f.record("PowerOffJob %d %s", id, host)
}

func (f *fakeBackend) DestroyJob(_ context.Context, id int64, reason *string, host string) error {
	r := "<nil>"
	if reason != nil {
		r = fmt.Sprintf("%q", *reason)
	}
	return f.record("DestroyJob %d %s %s", id, r, host)
}

func (f *fakeBackend) ListJobs(context.Context) ([]service.JobSummary, error) {
	return f.jobs, f.record("ListJobs")
}

func (f *fakeBackend) ListMachines(context.Context) ([]service.MachineSummary, error) {
	if f.panicky {
		panic("fake backend: a bug")
	}
	return f.machines, f.record("ListMachines")
}

func (f *fakeBackend) BoardPosition(_ context.Context, m string, b geometry.Board) (*service.Physical, error) {
	return f.pos, f.record("BoardPosition %s %v", m, b)
}

func (f *fakeBackend) BoardAtPosition(_ context.Context, m string, p service.Physical) (*geometry.Board, error) {
	return f.board, f.record("BoardAtPosition %s %v", m, p)
}

func (f *fakeBackend) WhereIs(_ context.Context, q service.WhereIsQuery) (*service.WhereIsResult, error) {
	return f.where, f.record("WhereIs %s", q.Host)
}

func (f *fakeBackend) ReportProblem(_ context.Context, r service.ProblemReport) error {
	return f.record("ReportProblem %s %q %s", r.IP, r.Description, r.Host)
}

// fakeFeed is a change feed driven by the test.
type fakeFeed struct {
	mu      sync.Mutex
	pending service.Change
	ready   chan struct{}
	closed  bool
}

func newFakeFeed() *fakeFeed { return &fakeFeed{ready: make(chan struct{}, 1)} }

func (f *fakeFeed) Publish(ch service.Change) {
	f.mu.Lock()
	f.pending.Jobs = append(f.pending.Jobs, ch.Jobs...)
	f.pending.Machines = append(f.pending.Machines, ch.Machines...)
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

func (f *fakeFeed) Ready() <-chan struct{} { return f.ready }

func (f *fakeFeed) Take() service.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.pending
	f.pending = service.Change{}
	return ch
}

func (f *fakeFeed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

func (f *fakeFeed) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}
