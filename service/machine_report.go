package service

// report_problem: a user's report about a board.

import (
	"context"

	"github.com/spalloc/spallocd/db"
)

// ReportProblem records a user's report about the board with the given IP
// address (and optionally a chip and core of it).
func (s *Service) ReportProblem(ctx context.Context, r ProblemReport) error {
	w := s.world.Load()
	ref, ok := w.index.byIP[r.IP]
	if !ok {
		return NotFound("No board has the address %q.", r.IP)
	}
	return s.write(ctx, func(t *tx) error {
		m := t.machine(ref.machine)
		if m == nil {
			return NotFound("No board has the address %q.", r.IP)
		}
		boardID, job := m.info[ref.index].id, m.dyn(ref.index).job
		err := t.q.InsertBoardReport(t.ctx, db.InsertBoardReportParams{BoardID: &boardID, Ip: r.IP, JobID: jobRef(job),
			ChipX: int64Ptr(r.ChipX), ChipY: int64Ptr(r.ChipY), Core: int64Ptr(r.Core), Description: r.Description,
			Reporter: strPtr(r.Host), ReportedAt: unix(t.now)})
		if err != nil {
			return t.dbErr("record problem report", err)
		}
		t.logf("problem reported", "ip", r.IP, "job", job, "reporter", r.Host, "description", r.Description)
		return nil
	})
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}
