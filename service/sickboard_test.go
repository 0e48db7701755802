package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func (e *env) report(ip, description, host string) {
	e.t.Helper()
	x, core := 1, 4
	err := e.ReportProblem(e.ctx, service.ProblemReport{IP: ip, ChipX: &x, ChipY: &x, Core: &core, Description: description, Host: host})
	if err != nil {
		e.t.Fatalf("report_problem %s: %v", ip, err)
	}
}

func (e *env) boardInfo(machine string, b geometry.Board) service.BoardInfo {
	e.t.Helper()
	for _, bi := range e.detail(machine).Boards {
		if bi.Board == b {
			return bi
		}
	}
	e.t.Fatalf("no board %v on %s", b, machine)
	return service.BoardInfo{}
}

// The board of job (0, 0, 0) of "m" in oneMachine is 11.0.0.0.
const sickIP = "11.0.0.0"

var sickBoard = geometry.Board{}

// After sick_board_reports reports within the window a board is taken out
// of service with the reports as the reason, by "server"; its job keeps
// it; reports older than the window, or filed before the board was
// returned to service, do not count; counting survives a restart.
func TestSickBoardTakenOutOfService(t *testing.T) {
	e := newEnv(t, oneMachine("sick_board_reports = 3\nsick_board_window = \"1h\"", 1))
	job := e.create(board(0, 0, 0))
	e.finish()
	e.report(sickIP, "old news", "10.0.0.1")
	e.Clock.Advance(61 * time.Minute) // the first report falls out of the window
	e.report(sickIP, "no heartbeat", "10.0.0.2")
	e.Restart(t)
	e.report(sickIP, "packet loss", "10.0.0.3")
	if b := e.boardInfo("m", sickBoard); b.OutOfService != nil {
		t.Fatalf("out of service after 2 reports in the window: %q", *b.OutOfService)
	}
	e.report(sickIP, "dropped spikes", "10.0.0.4")
	b := e.boardInfo("m", sickBoard)
	want := `3 problem reports within 1h: "dropped spikes" (chip 1, 1 core 4 from 10.0.0.4); ` +
		`"packet loss" (chip 1, 1 core 4 from 10.0.0.3); "no heartbeat" (chip 1, 1 core 4 from 10.0.0.2)`
	if b.OutOfService == nil || *b.OutOfService != want || b.OutOfServiceBy == nil || *b.OutOfServiceBy != service.ServerActor {
		t.Fatalf("board after 3 reports: out of service %v by %v, want %q by server", b.OutOfService, b.OutOfServiceBy, want)
	}
	if b.JobID == nil || *b.JobID != job {
		t.Errorf("the job lost its board: %v", b.JobID)
	}
	e.wantState(job, service.StateReady)
	entries, _, _ := e.Audit(e.ctx, service.AuditQuery{Machine: "m", Board: &sickBoard})
	if len(entries) != 1 || entries[0].By != service.ServerActor || entries[0].From != "10.0.0.4" ||
		entries[0].Action != service.ActionBoardOutOfService || entries[0].JobID == nil || *entries[0].JobID != job {
		t.Errorf("audit: %+v", entries)
	}
	e.consistent()

	// Returned to service, it starts afresh: the three reports no longer count.
	if err := e.SetBoardInService(e.ctx, "m", sickBoard, true, ""); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Second)
	e.report(sickIP, "again", "10.0.0.5")
	if b := e.boardInfo("m", sickBoard); b.OutOfService != nil {
		t.Fatalf("out of service again after one report: %q", *b.OutOfService)
	}
	e.report(sickIP, "again", "10.0.0.5")
	e.report(sickIP, "again", "10.0.0.5")
	if b := e.boardInfo("m", sickBoard); b.OutOfService == nil {
		t.Fatal("three new reports: still in service")
	}
}

// With sick_board_destroys_job the job holding the board ends with it.
func TestSickBoardDestroysItsJob(t *testing.T) {
	e := newEnv(t, oneMachine("sick_board_reports = 1\nsick_board_destroys_job = true", 1))
	job := e.create(board(0, 0, 0))
	e.report(sickIP, "on fire", "")
	st := e.status(job)
	if st.State != service.StateDestroyed || st.Reason == nil ||
		*st.Reason != `Board (0, 0, 0) of m taken out of service: 1 problem reports within 1h: "on fire" (chip 1, 1 core 4)` {
		t.Fatalf("job: %v %q", st.State, e.reason(job))
	}
	d, err := e.JobDetail(e.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if last := d.History[len(d.History)-1].Detail; !strings.HasPrefix(last, "destroyed by the server after problem reports: ") {
		t.Errorf("history ends with %q", last)
	}
	e.consistent()
}

// Off by default: reports are filed, nothing else happens.
func TestSickBoardRuleIsOffByDefault(t *testing.T) {
	e := newEnv(t, oneMachine("", 1))
	for range 20 {
		e.report(sickIP, "flaky", "10.0.0.1")
	}
	if b := e.boardInfo("m", sickBoard); b.OutOfService != nil || b.Reports != 20 {
		t.Errorf("after 20 reports without the rule: out of service %v, %d reports", b.OutOfService, b.Reports)
	}
	// Turned on by a reload, it counts the reports of the window.
	e.Apply(t, oneMachine("sick_board_reports = 21", 1))
	e.report(sickIP, "flaky", "10.0.0.1")
	if b := e.boardInfo("m", sickBoard); b.OutOfService == nil || !strings.HasPrefix(*b.OutOfService, "21 problem reports within 1h: ") ||
		!strings.HasSuffix(*b.OutOfService, "; and 16 more") {
		t.Errorf("after the reload and one more report: out of service %v", b.OutOfService)
	}
}
