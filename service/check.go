package service

// The consistency check operators run (and Open runs): no board in two
// jobs, no board held by a dead job, power state that agrees with jobs and
// pending operations, queues that hold exactly the queued jobs, and an
// in-memory state (boards, jobs, BMPs, open operations) that agrees with the
// database.

import (
	"context"
	"fmt"
	"slices"

	"github.com/spalloc/spallocd/service/geometry"
)

// CheckConsistency returns a description of every inconsistency found; an
// empty list means none. It reads a consistent snapshot while holding the
// writer, so it never reports a transaction half done.
func (s *Service) CheckConsistency(ctx context.Context) ([]string, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, errShuttingDown
	}
	problems, err := s.wq.ConsistencyProblems(ctx)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	mem, err := s.checkMirror(ctx)
	if err != nil {
		return nil, err
	}
	bmps, err := s.checkBMPs(ctx)
	if err != nil {
		return nil, err
	}
	ops, err := s.checkOps(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Concat(problems, mem, bmps, ops), nil
}

// checkOps compares the index of open operations with the rows.
func (s *Service) checkOps(ctx context.Context) ([]string, error) {
	rows, err := s.wq.ListOpenOps(ctx)
	if err != nil {
		return nil, s.internal("consistency check", err)
	}
	var out []string
	for _, r := range rows {
		want := openOpFromRow(r)
		got := s.ops.byID[r.ID]
		if got != nil {
			want.claimed, want.claimedAt = got.claimed, got.claimedAt // claims are not stored
		}
		switch {
		case got == nil:
			out = append(out, fmt.Sprintf("open BMP operation %d is not in memory", r.ID))
		case *got != *want:
			out = append(out, fmt.Sprintf("BMP operation %d: memory %+v, database %+v", r.ID, *got, *want))
		}
	}
	if len(s.ops.byID) != len(rows) {
		out = append(out, fmt.Sprintf("%d open BMP operations in memory, %d in the database", len(s.ops.byID), len(rows)))
	}
	return append(out, s.ops.problems()...), nil
}

// checkMirror compares the in-memory state with the database.
func (s *Service) checkMirror(ctx context.Context) ([]string, error) {
	var out []string
	owner := map[boardRef]int64{}
	for id, j := range s.mirror.jobs {
		out = append(out, s.checkJobRow(ctx, j)...)
		m := s.mirror.byID[j.machine]
		if j.machine != 0 && m == nil {
			out = append(out, fmt.Sprintf("job %d is allocated on an unknown machine %d", id, j.machine))
			continue
		}
		for _, b := range j.boards {
			ref := boardRef{machine: j.machine, index: m.index(b)}
			if other, dup := owner[ref]; dup {
				out = append(out, fmt.Sprintf("board %s %v is in jobs %d and %d", m.name, b, other, id))
			}
			owner[ref] = id
			if m.dyn[ref.index].job != id {
				out = append(out, fmt.Sprintf("job %d lists board %s %v, which is held by %d", id, m.name, b, m.dyn[ref.index].job))
			}
		}
	}
	for _, m := range s.mirror.machines {
		rows, err := s.wq.ListBoardsOfMachine(ctx, m.id)
		if err != nil {
			return nil, s.internal("consistency check", err)
		}
		for _, r := range rows {
			b := geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)}
			if !m.has(b) {
				continue
			}
			if d := boardDynFromRow(r); d != m.dyn[m.index(b)] {
				out = append(out, fmt.Sprintf("board %s %v: memory %+v, database %+v", m.name, b, m.dyn[m.index(b)], d))
			}
		}
	}
	return out, nil
}

func (s *Service) checkJobRow(ctx context.Context, j *jobState) []string {
	r, err := s.wq.GetJob(ctx, j.id)
	if err != nil {
		return []string{fmt.Sprintf("job %d is live in memory but cannot be read: %v", j.id, err)}
	}
	if JobState(r.State) != j.state {
		return []string{fmt.Sprintf("job %d: state %v in memory, %v in the database", j.id, j.state, JobState(r.State))}
	}
	return nil
}
