package service

// report_problem: a user's report about a board, and the sick-board rule
// ([policy] sick_board_reports within sick_board_window take the board out
// of service, in the report's transaction).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/config"
)

// ReportProblem records a user's report about the board with the given IP
// address (and optionally a chip and core of it). When the board has had
// sick_board_reports reports within sick_board_window, it is taken out of
// service with them as the reason.
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
		return t.checkSickBoard(m, ref.index, r.Host)
	})
}

// checkSickBoard takes board i of m out of service when it has had
// sick_board_reports reports within sick_board_window since it was last
// returned to service; the server does it, prompted by reporter.
func (t *tx) checkSickBoard(m *machine, i int, reporter string) error {
	p := t.currentSettings().limits
	if p.SickBoardReports == 0 || m.info[i].dead || m.dyn(i).oos != "" {
		return nil
	}
	rows, err := t.q.RecentBoardReports(t.ctx, db.RecentBoardReportsParams{BoardID: &m.info[i].id,
		SinceAt: unix(t.now.Add(-p.SickBoardWindow)), Lim: int64(p.SickBoardReports)})
	if err != nil {
		return t.dbErr("count problem reports", err)
	}
	if len(rows) < p.SickBoardReports {
		return nil
	}
	reason := sickReason(rows, p)
	b := m.board(i)
	t.logAt(slog.LevelWarn, "board taken out of service after problem reports", "machine", m.name, "board", b.String(),
		"reports", len(rows), "job", m.dyn(i).job, "job_destroyed", p.SickBoardDestroysJob && m.dyn(i).job != 0)
	err = t.auditAs(actor{who: ServerActor, from: reporter}, ActionBoardOutOfService, boardTarget(m.name, b, m.dyn(i).job), reason)
	if err != nil {
		return err
	}
	return t.setOutOfService(m, i, reason, ServerActor, p.SickBoardDestroysJob, "destroyed by the server after problem reports")
}

// Bounds of a sick board's reason: the reports it quotes, and how much of
// each description.
const (
	sickReasonReports     = 5
	sickReasonDescription = 120
)

// sickReason is why a board is taken out of service after reports (rows,
// newest first): how many within what window, and the newest of them.
func sickReason(rows []db.RecentBoardReportsRow, p config.PolicySettings) string {
	var parts []string
	for _, r := range rows[:min(len(rows), sickReasonReports)] {
		parts = append(parts, describeReport(r))
	}
	if more := len(rows) - len(parts); more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return fmt.Sprintf("%d problem reports within %s: %s", len(rows), config.FormatDuration(p.SickBoardWindow),
		strings.Join(parts, "; "))
}

// describeReport is one report in a reason, e.g. `"no heartbeat" (chip
// 1, 2 core 3, from 10.0.0.5)`.
func describeReport(r db.RecentBoardReportsRow) string {
	desc := r.Description
	if len(desc) > sickReasonDescription {
		desc = strings.ToValidUTF8(desc[:sickReasonDescription], "") + "..."
	}
	var where []string
	if r.ChipX != nil && r.ChipY != nil {
		where = append(where, fmt.Sprintf("chip %d, %d", *r.ChipX, *r.ChipY))
	}
	if r.Core != nil {
		where = append(where, fmt.Sprintf("core %d", *r.Core))
	}
	if r.Reporter != nil {
		where = append(where, "from "+*r.Reporter)
	}
	out := fmt.Sprintf("%q", desc)
	if len(where) > 0 {
		out += " (" + strings.Join(where, " ") + ")"
	}
	return out
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}
