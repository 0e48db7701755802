package service

// The v1 protocol's job reads: answered from the committed world, or from
// the database for jobs that are no longer live.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/spalloc/spallocd/service/geometry"
)

// JobState is get_job_state. Live jobs are answered from memory; others
// from the database (destroyed, forgotten or unknown). It counts as a
// keepalive of a live job.
func (s *Service) JobState(ctx context.Context, id int64, host string) (JobStatus, error) {
	if j := s.world.Load().job(id); j != nil {
		s.touch(ctx, id, host)
		return s.liveStatus(j), nil
	}
	return s.storedStatus(ctx, id)
}

func (s *Service) liveStatus(j *job) JobStatus {
	created := j.createdAt
	st := JobStatus{State: j.state, Keepalive: j.keepalive, StartTime: &created}
	if h := s.alive.host(j.id); h != "" {
		st.KeepaliveHost = &h
	}
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
	// Committed but not yet published (a racing reader): answer from
	// the row.
	created := timeAt(r.CreatedAt)
	st := JobStatus{State: JobState(r.State), Keepalive: durationPtr(r.Keepalive), StartTime: &created,
		KeepaliveHost: r.KeepaliveHost}
	if r.Power != nil {
		p := *r.Power != 0
		st.Power = &p
	}
	return st, nil
}

// JobMachineInfo returns nil (all fields null) until the job holds boards.
// It counts as a keepalive of a live job.
func (s *Service) JobMachineInfo(ctx context.Context, id int64, host string) (*JobMachineInfo, error) {
	w := s.world.Load()
	j := w.job(id)
	if j == nil {
		return nil, nil
	}
	s.touch(ctx, id, host)
	if !j.hasBoards() {
		return nil, nil
	}
	m := w.machine(j.machine)
	if m == nil {
		return nil, nil
	}
	return machineInfo(j, m), nil
}

func machineInfo(j *job, m *machine) *JobMachineInfo {
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
	w := s.world.Load()
	jobs := sortedJobs(w)
	names := w.machineNames()
	out := make([]JobSummary, len(jobs))
	for i, j := range jobs {
		out[i] = s.summary(j, names)
	}
	return out, nil
}

func (s *Service) summary(j *job, names map[int64]string) JobSummary {
	st := s.liveStatus(j)
	sum := JobSummary{ID: j.id, Owner: j.owner, StartTime: j.createdAt, Keepalive: j.keepalive, State: j.state,
		Power: st.Power, Args: j.args, Kwargs: j.kwargs, KeepaliveHost: s.alive.host(j.id)}
	if j.hasBoards() {
		name := names[j.machine]
		sum.MachineName = &name
		sum.Boards = slices.Clone(j.boards)
	}
	return sum
}

// sortedJobs lists the live jobs of w in id order.
func sortedJobs(w *world) []*job {
	jobs := make([]*job, 0, w.jobs.len())
	w.jobs.each(func(_ int64, j *job) { jobs = append(jobs, j) })
	slices.SortFunc(jobs, func(a, b *job) int { return cmp.Compare(a.id, b.id) })
	return jobs
}
