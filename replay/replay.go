package replay

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service"
)

// Options tune a replay.
type Options struct {
	// DBPath is the SQLite file to replay on; "" = a fresh file in a
	// temporary folder that is removed afterwards. An existing file is
	// started cold (its contents are forgotten).
	DBPath string
	// Synchronous is the SQLite synchronous mode ("" = the service default).
	Synchronous string
	// Progress, when set, is called after each event with the events done
	// and the events expected in all.
	Progress func(done, total int)
	// Policy is the [scheduler] policy to replay under: "reserve" or
	// "fifo"; "" = the machines' configuration's (Machines.Policy), else
	// the server's default.
	Policy string
}

// Result is a finished replay.
type Result struct {
	Trace    *Trace
	Machines *Machines
	Policy   string    // the [scheduler] policy it was replayed under
	Outcomes []Outcome // in trace order
	Timing   Timing
	Calls    Calls
	Metrics  Metrics
}

// Calls counts the service calls of a replay (each one transaction, except
// the read-only JobState and JobMachineInfo).
type Calls struct {
	Create, Destroy, Claim, Complete, State, MachineInfo, Tick int
	Ops                                                        int // BMP operations completed
}

// Epoch is simulated time 0 (arrival_s = 0): the injected clock reads
// Epoch + simulated ms.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// replayOwner and replayHost are what the replay tells the service about its
// (imaginary) client.
const (
	replayOwner = "trace-replay"
	replayHost  = "replay"
)

// simClock is the service's injected clock: simulated milliseconds since
// Epoch. The service may read it from its own goroutines.
type simClock struct{ ms atomic.Int64 }

func (c *simClock) Now() time.Time { return Epoch.Add(time.Duration(c.ms.Load()) * time.Millisecond) }

// Run replays trace tr on machines ms through a real service over a real
// SQLite database, in simulated time, and computes its metrics.
func Run(ctx context.Context, tr *Trace, ms *Machines, opts Options) (*Result, error) {
	cfg, err := ServiceConfig(ms)
	if err != nil {
		return nil, err
	}
	if opts.Policy != "" {
		cfg.Scheduler.Policy = opts.Policy
	}
	dbPath := opts.DBPath
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "spalloc-replay-")
		if err != nil {
			return nil, fmt.Errorf("creating the temporary database folder: %w", err)
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "replay.db")
	}
	r := &runner{trace: tr, machines: ms, progress: opts.Progress,
		queued: map[int64]int{}, byService: map[int64]int{}}
	r.outcomes = make([]Outcome, len(tr.Jobs))
	for i := range tr.Jobs {
		r.outcomes[i].Job = &tr.Jobs[i]
	}
	start, startCPU := time.Now(), processCPU()
	// The file is started cold, under its lock: never under a server.
	lock, err := db.LockDatabase(dbPath)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if err := lock.RemoveDatabase(); err != nil {
		return nil, err
	}
	svc, err := service.Open(ctx, service.Options{
		DBPath:       dbPath,
		Synchronous:  opts.Synchronous,
		Clock:        &r.clock,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		TickInterval: time.Second, // the loop only checkpoints (runBackground)
	})
	if err != nil {
		return nil, fmt.Errorf("opening the service on %s: %w", dbPath, err)
	}
	defer svc.Close()
	if ms.SecondsBeforeFree == 0 {
		stop := runBackground(ctx, svc)
		defer stop()
	}
	r.svc = svc
	r.sub = svc.Subscribe()
	defer r.sub.Close()
	if _, err := svc.ApplyConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("configuring the machines of %s: %w", ms.Path, err)
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	r.timing.Wall = time.Since(start)
	r.timing.CPU = processCPU() - startCPU
	res := &Result{Trace: tr, Machines: ms, Policy: cfg.Scheduler.Policy, Outcomes: r.outcomes, Timing: r.timing, Calls: r.calls}
	res.Metrics = ComputeMetrics(r.outcomes, ms, r.timing)
	return res, nil
}

// runBackground runs the service's own background loop, as the server does:
// it checkpoints the SQLite write-ahead log outside the commits. Its timed
// work (keepalive expiry, delayed freeing) finds nothing to do in a replay
// without seconds_before_free (no job has a keepalive); with a free delay
// the loop is not started, so that boards return only at the replay's
// return events. The returned function stops the loop and waits for it.
func runBackground(ctx context.Context, svc *service.Service) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx) // returns nil when ctx ends; errors of a round are logged
	}()
	return func() {
		cancel()
		<-done
	}
}

// Event classes, in the order they are handled at one instant
// (docs/scheduling.md, "Job traces").
const (
	evEnd = iota
	evReturn
	evArrival
)

type event struct {
	at    int64 // ms
	class int
	key   int64 // job id (ends, returns) or file index (arrivals)
	job   int   // index into outcomes
}

func (a event) before(b event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.class != b.class {
		return a.class < b.class
	}
	return a.key < b.key
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].before(h[j]) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type runner struct {
	trace    *Trace
	machines *Machines
	progress func(done, total int)
	clock    simClock
	svc      *service.Service
	sub      *service.Subscription

	outcomes  []Outcome
	timing    Timing
	calls     Calls
	pending   eventHeap     // ends and returns
	next      int           // next arrival (index into the trace)
	queued    map[int64]int // service id -> outcome index, jobs waiting
	byService map[int64]int // service id -> outcome index, every job
	changed   map[int64]bool
	done      int
}

func (r *runner) run(ctx context.Context) error {
	total := 2 * len(r.trace.Jobs)
	for {
		ev, ok := r.nextEvent()
		if !ok {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.clock.ms.Store(ev.at)
		var err error
		switch ev.class {
		case evArrival:
			err = r.arrive(ctx, ev.job)
		case evEnd:
			err = r.end(ctx, ev.job)
		case evReturn:
			err = r.timedFree(ctx)
		}
		if err != nil {
			return err
		}
		if ev.class != evReturn {
			r.done++
			if r.outcomes[ev.job].Rejected {
				r.done++ // a rejected job has no end
			}
		}
		if r.progress != nil {
			r.progress(r.done, total)
		}
	}
	return r.checkAllServed(ctx)
}

// nextEvent pops the earliest event: the next arrival or the earliest end
// or return.
func (r *runner) nextEvent() (event, bool) {
	var arr event
	haveArr := r.next < len(r.trace.Jobs)
	if haveArr {
		arr = event{at: r.trace.Jobs[r.next].Arrival, class: evArrival, key: int64(r.next), job: r.next}
	}
	switch {
	case len(r.pending) > 0 && (!haveArr || r.pending[0].before(arr)):
		return heap.Pop(&r.pending).(event), true
	case haveArr:
		r.next++
		return arr, true
	}
	return event{}, false
}

func (r *runner) arrive(ctx context.Context, idx int) error {
	o := &r.outcomes[idx]
	req, err := createRequest(o.Job)
	if err != nil {
		return r.jobError(o, "%w", err)
	}
	t0 := time.Now()
	id, err := r.svc.CreateJob(ctx, req)
	r.calls.Create++
	r.timing.Create = append(r.timing.Create, time.Since(t0))
	if err != nil {
		return r.jobError(o, "create_job failed: %w", err)
	}
	o.ServiceID = id
	r.byService[id] = idx
	st, err := r.svc.JobState(ctx, id, replayHost)
	r.calls.State++
	if err != nil {
		return r.jobError(o, "get_job_state failed: %w", err)
	}
	switch st.State {
	case service.StateQueued:
		r.queued[id] = idx
	case service.StateDestroyed:
		if st.Reason == nil || !strings.Contains(*st.Reason, strings.TrimSuffix(service.ReasonNoMachines, ".")) {
			return r.jobError(o, "destroyed at creation with reason %s; want %q", quoteReason(st.Reason), service.ReasonNoMachines)
		}
		o.Rejected = true
	default:
		if err := r.allocated(ctx, idx); err != nil {
			return err
		}
	}
	return r.settle(ctx)
}

// end destroys a job whose duration is over. Its latency covers the
// destroy call and the power-off of its boards, whose completion returns
// them to the pool and serves the queues (the "destroy" latency).
func (r *runner) end(ctx context.Context, idx int) error {
	o := &r.outcomes[idx]
	t0 := time.Now()
	r.calls.Destroy++
	if err := r.svc.DestroyJob(ctx, o.ServiceID, nil, replayHost); err != nil {
		return r.jobError(o, "destroy_job failed: %w", err)
	}
	if _, err := r.completeOps(ctx); err != nil {
		return err
	}
	r.timing.Destroy = append(r.timing.Destroy, time.Since(t0))
	if r.machines.SecondsBeforeFree > 0 {
		heap.Push(&r.pending, event{at: r.clock.ms.Load() + r.machines.SecondsBeforeFree.Milliseconds(),
			class: evReturn, key: o.Job.ID, job: idx})
	}
	return r.settle(ctx)
}

// timedFree lets the service return boards whose seconds_before_free is
// over (and serve the queues).
func (r *runner) timedFree(ctx context.Context) error {
	t0 := time.Now()
	r.calls.Tick++
	if err := r.svc.Tick(ctx); err != nil {
		return fmt.Errorf("at %s s: tick failed: %w", formatMS(r.clock.ms.Load()), err)
	}
	r.timing.Other += time.Since(t0)
	return r.settle(ctx)
}

// completeOps takes the pending changes, remembers the jobs they name, and
// claims (in one call) and completes every BMP operation of the BMPs they
// name, successfully, at once. It reports whether there were operations.
func (r *runner) completeOps(ctx context.Context) (bool, error) {
	ch := r.sub.Take()
	if r.changed == nil {
		r.changed = map[int64]bool{}
	}
	for _, id := range ch.Jobs {
		r.changed[id] = true
	}
	if len(ch.BMPs) == 0 {
		return false, nil
	}
	ops, err := r.svc.ClaimAllBMPOps(ctx, ch.BMPs)
	r.calls.Claim++
	if err != nil {
		return false, r.timeError("claiming the operations of %d BMPs: %w", len(ch.BMPs), err)
	}
	if len(ops) == 0 {
		return false, nil
	}
	results := make([]service.OpResult, len(ops))
	for k, op := range ops {
		results[k] = service.OpResult{OpID: op.ID}
	}
	r.calls.Complete++
	r.calls.Ops += len(results)
	if err := r.svc.CompleteBMPOps(ctx, results); err != nil {
		return false, r.timeError("completing %d BMP operations: %w", len(results), err)
	}
	return true, nil
}

// maxSettleRounds bounds the rounds of BMP work one event can cause (power
// off, then power on of the jobs it let in, then their link setup); far more
// means the service keeps creating work, which is a bug worth reporting.
const maxSettleRounds = 100

// settle completes BMP work until none is left, then records the jobs that
// this instant allocated.
func (r *runner) settle(ctx context.Context) error {
	for round := 0; ; round++ {
		more, err := r.completeOps(ctx)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if round == maxSettleRounds {
			return r.timeError("BMP operations keep coming after %d rounds", maxSettleRounds)
		}
	}
	return r.collectAllocations(ctx)
}

// collectAllocations checks the queued jobs the change feed named since the
// last event: those no longer queued were allocated at this instant.
func (r *runner) collectAllocations(ctx context.Context) error {
	for id := range r.changed {
		delete(r.changed, id)
		idx, ok := r.queued[id]
		if !ok {
			continue
		}
		st, err := r.svc.JobState(ctx, id, replayHost)
		r.calls.State++
		if err != nil {
			return r.jobError(&r.outcomes[idx], "get_job_state failed: %w", err)
		}
		switch st.State {
		case service.StateQueued:
			continue
		case service.StateDestroyed:
			return r.jobError(&r.outcomes[idx], "destroyed while queued, reason %s", quoteReason(st.Reason))
		}
		delete(r.queued, id)
		if err := r.allocated(ctx, idx); err != nil {
			return err
		}
	}
	return nil
}

// allocated records that a job got its boards now and schedules its end.
func (r *runner) allocated(ctx context.Context, idx int) error {
	o := &r.outcomes[idx]
	info, err := r.svc.JobMachineInfo(ctx, o.ServiceID, replayHost)
	r.calls.MachineInfo++
	if err != nil {
		return r.jobError(o, "get_job_machine_info failed: %w", err)
	}
	if info == nil || len(info.Boards) == 0 {
		return r.jobError(o, "allocated but get_job_machine_info names no boards")
	}
	mi := -1
	for i := range r.machines.Machines {
		if r.machines.Machines[i].Name == info.MachineName {
			mi = i
		}
	}
	if mi < 0 {
		return r.jobError(o, "allocated on unknown machine %q", info.MachineName)
	}
	held := heldTriads(mi, info)
	o.Allocated = true
	o.AllocAt = r.clock.ms.Load()
	o.Machine = mi
	o.Requested = min(o.Job.Requested(), r.machines.Machines[mi].WorkingBoards())
	o.Handed = len(info.Boards)
	o.Held = held
	heap.Push(&r.pending, event{at: o.End(), class: evEnd, key: o.Job.ID, job: idx})
	return nil
}

// heldTriads returns the triads an allocation takes out of the pool: every
// triad with one of its boards. The allocator offers a triad to no other
// job while any board of it is held by a block, and only to single-board
// jobs while single boards use it; a triad of a block in which no board is
// reachable holds nothing of the job and stays available (the service's
// public API does not report the block itself either).
func heldTriads(machine int, info *service.JobMachineInfo) []TriadKey {
	seen := map[TriadKey]bool{}
	var out []TriadKey
	for _, b := range info.Boards {
		k := TriadKey{machine, b.X, b.Y}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// checkAllServed fails the replay when jobs are still queued although no
// event is left.
func (r *runner) checkAllServed(ctx context.Context) error {
	if len(r.queued) == 0 {
		return nil
	}
	first := -1
	for _, idx := range r.queued {
		if first < 0 || idx < first {
			first = idx
		}
	}
	j := r.outcomes[first].Job
	return fmt.Errorf("%d jobs are still queued after the last event (the first is job %d, %s:%d); every job not rejected must be allocated",
		len(r.queued), j.ID, r.trace.Path, j.Line)
}

func (r *runner) jobError(o *Outcome, format string, args ...any) error {
	return fmt.Errorf("job %d (%s:%d) at %s s: %w", o.Job.ID, r.trace.Path, o.Job.Line,
		formatMS(r.clock.ms.Load()), fmt.Errorf(format, args...))
}

func (r *runner) timeError(format string, args ...any) error {
	return fmt.Errorf("at %s s: %w", formatMS(r.clock.ms.Load()), fmt.Errorf(format, args...))
}

func quoteReason(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// createRequest is the create_job call of a trace row.
func createRequest(j *Job) (service.CreateJobRequest, error) {
	req := service.CreateJobRequest{
		Owner:         replayOwner,
		Host:          replayHost,
		MaxDeadBoards: j.MaxDeadBoards,
		MaxDeadLinks:  j.MaxDeadLinks,
		RequireTorus:  j.RequireTorus,
		Tags:          j.Tags,
	}
	if j.MinRatio != nil {
		req.MinRatio = *j.MinRatio
	}
	if j.Machine != "" {
		req.Machine = &j.Machine
	}
	var args []int
	switch j.Form {
	case FormNone:
		req.Shape = service.Shape{Kind: service.ShapeOneBoard}
	case FormBoards:
		args = j.V[:1]
		req.Shape = service.Shape{Kind: service.ShapeNBoards, N: j.V[0]}
		if j.V[0] == 1 {
			req.Shape = service.Shape{Kind: service.ShapeOneBoard}
		}
	case FormTriads:
		args = j.V[:2]
		req.Shape = service.Shape{Kind: service.ShapeRect, W: j.V[0], H: j.V[1]}
	case FormBoard:
		args = j.V[:3]
		req.Shape = service.Shape{Kind: service.ShapeBoard, X: j.V[0], Y: j.V[1], Z: j.V[2]}
	}
	var err error
	if req.Args, err = json.Marshal(append([]int{}, args...)); err != nil {
		return req, fmt.Errorf("encoding the arguments: %w", err)
	}
	if req.Kwargs, err = json.Marshal(kwargs(j)); err != nil {
		return req, fmt.Errorf("encoding the keyword arguments: %w", err)
	}
	return req, nil
}

// kwargs are the keyword arguments the row sends, for list_jobs.
func kwargs(j *Job) map[string]any {
	kw := map[string]any{}
	if j.MinRatio != nil {
		kw["min_ratio"] = *j.MinRatio
	}
	if j.MaxDeadBoards != nil {
		kw["max_dead_boards"] = *j.MaxDeadBoards
	}
	if j.MaxDeadLinks != nil {
		kw["max_dead_links"] = *j.MaxDeadLinks
	}
	if j.RequireTorus {
		kw["require_torus"] = true
	}
	if j.Machine != "" {
		kw["machine"] = j.Machine
	}
	if j.Tags != nil {
		kw["tags"] = j.Tags
	}
	return kw
}
