package httpapi

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to damage the database behind the service's back

	"github.com/spalloc/spallocd/service"
)

func TestBoardReports(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", service.Shape{Kind: service.ShapeBoard, X: 0, Y: 0, Z: 1}, "spin")
	ip := e.boardOf("spin", xyz{0, 0, 1}).IP
	x, y, core := 3, 4, 7
	err := e.svc.ReportProblem(e.ctx, service.ProblemReport{IP: ip, ChipX: &x, ChipY: &y, Core: &core,
		Description: "core 7 hangs", Host: "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	var reps []reportJSON
	e.getJSON("/api/v1/machines/spin/boards/0/0/1/reports", &reps)
	if len(reps) != 1 {
		t.Fatalf("reports %+v, want one", reps)
	}
	r := reps[0]
	if r.IP != ip || r.JobID == nil || *r.JobID != id || *r.ChipX != 3 || *r.ChipY != 4 || *r.Core != 7 ||
		r.Description != "core 7 hangs" || r.Reporter != "10.0.0.5" || r.ReportedAt == 0 {
		t.Errorf("report %+v, want alice's job's report of chip (3, 4) core 7 from 10.0.0.5", r)
	}
	if b := e.boardOf("spin", xyz{0, 0, 1}); b.Reports != 1 {
		t.Errorf("board map counts %d reports, want 1", b.Reports)
	}
	e.getJSON("/api/v1/machines/spin/boards/0/0/0/reports", &reps)
	if len(reps) != 0 {
		t.Errorf("another board has reports %+v", reps)
	}
}

// TestConsistencyEndpointReportsProblems: a database changed behind the
// server's back is reported, not hidden.
func TestConsistencyEndpointReportsProblems(t *testing.T) {
	e := newEnv(t)
	e.requireConsistent()
	raw, err := sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Exec(`UPDATE boards SET power = 1 WHERE x = 1 AND y = 0 AND z = 1
		AND machine_id = (SELECT id FROM machines WHERE name = 'spin' AND retired_at IS NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	var c consistencyJSON
	e.getJSON("/api/v1/consistency", &c)
	if c.Consistent || len(c.Problems) == 0 {
		t.Fatalf("consistency %+v, want the powered free board reported", c)
	}
	found := false
	for _, p := range c.Problems {
		found = found || strings.Contains(p, "1,0,1") || strings.Contains(p, "(1, 0, 1)")
	}
	if !found {
		t.Errorf("problems %q do not name board (1, 0, 1)", c.Problems)
	}
}

// TestRequestTimeout: a request whose work outlives the server's request
// timeout gets 503 instead of hanging.
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RequestTimeout = time.Nanosecond })
	r := e.get("/api/v1/jobs")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.errorMsg(t), "timed out") {
		t.Errorf("status %d %s, want 503 timed out", r.code, r.body)
	}
}
