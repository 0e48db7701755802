package service

// The v1 protocol's job operations.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// CreateJob validates a request, records the job and queues it on every
// machine that could ever hold it, allocating it at once if it is at the
// head of a queue and fits. A request no machine could hold gives a job that
// is destroyed at once ("Cancelled: No suitable machines available.").
// Invalid values give a KindInvalid error and no job.
func (s *Service) CreateJob(ctx context.Context, req CreateJobRequest) (int64, error) {
	jr, err := normalise(req)
	if err != nil {
		return 0, err
	}
	if s.mirror.isStopped() {
		return 0, errStopped
	}
	var id int64
	err = s.write(ctx, func(t *tx) error {
		if t.s.mirror.stopped { // stopped meanwhile (the writer lock orders them)
			return errStopped
		}
		id, err = t.createJob(req, jr)
		return err
	})
	return id, err
}

var errStopped = Unavailable("The server is in emergency stop: no new jobs are accepted until an operator resumes it.")

func (mr *mirror) isStopped() bool {
	mr.mu.RLock()
	defer mr.mu.RUnlock()
	return mr.stopped
}

// normalise checks a request's values (exact messages of behaviour-cases)
// and turns it into the stored form.
func normalise(req CreateJobRequest) (jobRequest, error) {
	if req.Owner == "" {
		return jobRequest{}, Invalid("owner must be specified for all jobs")
	}
	if req.Machine != nil && req.Tags != nil {
		return jobRequest{}, Invalid("Only one of machine and tags may be specified for a job.")
	}
	if k := req.Keepalive; k != nil && (math.IsNaN(*k) || math.IsInf(*k, 0) || *k < 0) {
		return jobRequest{}, Invalid("keepalive must be a non-negative number of seconds or null")
	}
	jr, err := shapeRequest(req.Shape)
	if err != nil {
		return jobRequest{}, err
	}
	jr.MinRatio, jr.RequireTorus, jr.Machine = req.MinRatio, req.RequireTorus, req.Machine
	if jr.MaxDeadBoards, err = limit(req.MaxDeadBoards, allocator.ErrNegativeDeadBoard); err != nil {
		return jobRequest{}, err
	}
	if jr.MaxDeadLinks, err = limit(req.MaxDeadLinks, allocator.ErrNegativeDeadLink); err != nil {
		return jobRequest{}, err
	}
	jr.Tags = jobTags(req)
	if err := allocator.ValidateRequest(jr.alloc()); err != nil {
		return jobRequest{}, Invalid("%s", err.Error())
	}
	return jr, nil
}

func shapeRequest(sh Shape) (jobRequest, error) {
	switch sh.Kind {
	case ShapeOneBoard:
		return jobRequest{Kind: allocator.OneBoard}, nil
	case ShapeNBoards:
		return jobRequest{Kind: allocator.NBoards, N: sh.N}, nil
	case ShapeRect:
		return jobRequest{Kind: allocator.Rect, W: sh.W, H: sh.H}, nil
	case ShapeBoard:
		return jobRequest{Kind: allocator.SpecificBoard, Board: &[3]int{sh.X, sh.Y, sh.Z}}, nil
	}
	return jobRequest{}, Invalid("unknown job shape %d", int(sh.Kind))
}

// limit maps a dead-board/link limit: nil is unlimited, negative an error.
func limit(v *int, negative error) (int, error) {
	if v == nil {
		return allocator.Unlimited, nil
	}
	if *v < 0 {
		return 0, Invalid("%s", negative.Error())
	}
	return *v, nil
}

// jobTags are the tags a job selects machines by: none when it names a
// machine, ["default"] when it gives neither.
func jobTags(req CreateJobRequest) []string {
	switch {
	case req.Machine != nil:
		return nil
	case req.Tags == nil:
		return []string{DefaultTag}
	}
	return slices.Clone(req.Tags)
}

func (t *tx) createJob(req CreateJobRequest, jr jobRequest) (int64, error) {
	reqJSON, err := json.Marshal(jr)
	if err != nil {
		return 0, Internal("encode request", err)
	}
	args, kwargs := rawOr(req.Args, "[]"), rawOr(req.Kwargs, "{}")
	id, err := t.q.InsertJob(t.ctx, db.InsertJobParams{
		Owner: req.Owner, Keepalive: req.Keepalive, Args: string(args), Kwargs: string(kwargs),
		Request: string(reqJSON), State: int64(StateQueued), CreatedAt: t.at, KeepaliveHost: strPtr(req.Host),
	})
	if err != nil {
		return 0, t.dbErr("insert job", err)
	}
	j := &jobState{id: id, owner: req.Owner, keepalive: req.Keepalive, args: args, kwargs: kwargs,
		req: jr, areq: jr.alloc(), createdAt: t.at, touch: newTouch(t.now), state: StateQueued}
	if req.Host != "" {
		j.touch.host.Store(&req.Host)
	}
	t.jobs[id] = j
	t.change.job(id)
	t.logf("job created", "job", id, "owner", req.Owner, "request", string(reqJSON))
	if err := t.event(j, "created"); err != nil {
		return 0, err
	}
	return id, t.queueOrCancel(j, ReasonNoMachines)
}

func rawOr(r json.RawMessage, empty string) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage(empty)
	}
	return slices.Clone(r)
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// queueOrCancel queues a queued job on every machine that could hold it; if
// there is none it destroys the job: a job that was never allocated gets
// "Cancelled: " + reason, one that failed on its boards gets reason as is.
func (t *tx) queueOrCancel(j *jobState, reason string) error {
	ms := t.candidates(j)
	if len(ms) == 0 {
		final := CancelledPrefix + reason
		if reason == ReasonConfigFailed {
			final = reason
		}
		return t.destroy(j.id, &final, "no machine can hold it")
	}
	for _, m := range ms {
		t.enqueue(m, j.id)
	}
	return nil
}

// ---- reads ----

// touch counts a job-specific command as a keepalive of a live job.
func (s *Service) touch(j *jobState, host string) {
	if j == nil {
		return
	}
	j.touch.at.Store(s.clock.Now().UnixNano())
	if host != "" {
		if p := j.touch.host.Load(); p == nil || *p != host {
			j.touch.host.Store(&host)
		}
	}
}

// Keepalive, JobState, JobMachineInfo, PowerOnJob, PowerOffJob, DestroyJob
// count as a keepalive of the job and record host as its keepalivehost.
// Unknown or destroyed ids are not errors (spec §2 "Details").
func (s *Service) Keepalive(ctx context.Context, id int64, host string) error {
	s.touch(s.mirror.job(id), host)
	return nil
}

// JobState is get_job_state. Live jobs are answered from memory; others
// from the database (destroyed, forgotten or unknown).
func (s *Service) JobState(ctx context.Context, id int64, host string) (JobStatus, error) {
	if j := s.mirror.job(id); j != nil {
		s.touch(j, host)
		return liveStatus(j), nil
	}
	return s.storedStatus(ctx, id)
}

func liveStatus(j *jobState) JobStatus {
	st := JobStatus{State: j.state, Keepalive: j.keepalive, StartTime: &j.createdAt, KeepaliveHost: j.touch.host.Load()}
	if j.hasBoards() {
		p := j.power
		st.Power = &p
	}
	return st
}

// storedStatus answers for a job that is not live in memory.
func (s *Service) storedStatus(ctx context.Context, id int64) (JobStatus, error) {
	r, err := s.rq.GetJob(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return JobStatus{State: StateUnknown}, nil
	}
	if err != nil {
		return JobStatus{}, s.internal("read job", err)
	}
	switch {
	case r.Forgotten != 0:
		return JobStatus{State: StateUnknown}, nil
	case r.State == int64(StateDestroyed):
		return JobStatus{State: StateDestroyed, Reason: r.DestroyReason}, nil
	}
	// Committed but not yet in the mirror (a racing reader): answer from
	// the row.
	st := JobStatus{State: JobState(r.State), Keepalive: r.Keepalive, StartTime: &r.CreatedAt}
	if r.Power != nil {
		p := *r.Power != 0
		st.Power = &p
	}
	return st, nil
}

// JobMachineInfo returns nil (all fields null) until the job holds boards.
func (s *Service) JobMachineInfo(ctx context.Context, id int64, host string) (*JobMachineInfo, error) {
	j := s.mirror.job(id)
	s.touch(j, host)
	if j == nil || !j.hasBoards() {
		return nil, nil
	}
	m := s.mirror.machineByID(j.machine)
	if m == nil {
		return nil, nil
	}
	return machineInfo(j, m), nil
}

func machineInfo(j *jobState, m *machineState) *JobMachineInfo {
	origin := j.boards[0] // boards are sorted: the smallest (x, y, z)
	info := &JobMachineInfo{Width: j.chipW, Height: j.chipH, MachineName: m.name, Boards: slices.Clone(j.boards)}
	for _, b := range j.boards {
		x, y := geometry.BoardToChip(geometry.Board{X: b.X - origin.X, Y: b.Y - origin.Y, Z: b.Z - origin.Z})
		info.Connections = append(info.Connections, Connection{ChipX: x, ChipY: y, Hostname: m.info[m.index(b)].ip})
	}
	return info
}

// ListJobs lists the live jobs, oldest first.
func (s *Service) ListJobs(ctx context.Context) ([]JobSummary, error) {
	s.mirror.mu.RLock()
	jobs := make([]*jobState, 0, len(s.mirror.jobs))
	for _, j := range s.mirror.jobs {
		jobs = append(jobs, j)
	}
	names := make(map[int64]string, len(s.mirror.machines))
	for _, m := range s.mirror.machines {
		names[m.id] = m.name
	}
	s.mirror.mu.RUnlock()
	slices.SortFunc(jobs, func(a, b *jobState) int { return cmp.Compare(a.id, b.id) })
	out := make([]JobSummary, len(jobs))
	for i, j := range jobs {
		out[i] = summary(j, names)
	}
	return out, nil
}

func summary(j *jobState, names map[int64]string) JobSummary {
	st := liveStatus(j)
	sum := JobSummary{ID: j.id, Owner: j.owner, StartTime: j.createdAt, Keepalive: j.keepalive, State: j.state,
		Power: st.Power, Args: j.args, Kwargs: j.kwargs}
	if h := j.touch.host.Load(); h != nil {
		sum.KeepaliveHost = *h
	}
	if j.hasBoards() {
		name := names[j.machine]
		sum.MachineName = &name
		sum.Boards = slices.Clone(j.boards)
	}
	return sum
}

// ---- changes ----

// PowerOnJob (re)powers a job's boards: power on, then its periphery links
// disabled; the job is in state power until that is done. Queued, unknown
// and destroyed jobs are left alone.
func (s *Service) PowerOnJob(ctx context.Context, id int64, host string) error {
	return s.powerJob(ctx, id, host, true)
}

// PowerOffJob powers a job's boards off; it keeps them and is ready (with
// power false) once that is done.
func (s *Service) PowerOffJob(ctx context.Context, id int64, host string) error {
	return s.powerJob(ctx, id, host, false)
}

func (s *Service) powerJob(ctx context.Context, id int64, host string, on bool) error {
	j := s.mirror.job(id)
	s.touch(j, host)
	if j == nil || !j.hasBoards() {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		if j := t.job(id); j != nil && j.hasBoards() {
			return t.requestPower(id, on)
		}
		return nil
	})
}

// DestroyJob destroys a job; reason nil = none given. Destroying twice keeps
// the first reason.
func (s *Service) DestroyJob(ctx context.Context, id int64, reason *string, host string) error {
	j := s.mirror.job(id)
	s.touch(j, host)
	if j == nil {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		if t.job(id) == nil {
			return nil
		}
		return t.destroyJob(id, reason, "destroyed by client")
	})
}
