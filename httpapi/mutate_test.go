package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service"
)

// mutation is one admin route with a body it accepts.
type mutation struct {
	method, path, body string
}

func mutations(jobID int64) []mutation {
	board := "/api/v1/machines/spin/boards/1/0/0"
	return []mutation{
		{http.MethodPost, "/api/v1/jobs/" + itoa(jobID) + "/destroy", `{"reason": "r"}`},
		{http.MethodPost, board + "/out_of_service", `{"reason": "r"}`},
		{http.MethodPost, board + "/in_service", ``},
		{http.MethodPost, board + "/power", `{"on": false}`},
		{http.MethodPut, board + "/links/north", `{"dead": true}`},
		{http.MethodPost, "/api/v1/emergency_stop", `{"reason": "r"}`},
		{http.MethodPost, "/api/v1/resume", ``},
		{http.MethodPost, "/api/v1/machines/spin/drain", `{"reason": "r"}`},
		{http.MethodPost, "/api/v1/machines/spin/undrain", ``},
	}
}

// TestMutationsNeedTheAdminToken: without the right bearer token every
// mutation is refused and changes nothing; without a configured token
// mutations are disabled altogether.
func TestMutationsNeedTheAdminToken(t *testing.T) {
	cases := []struct {
		name       string
		configured string
		header     string
		code       int
	}{
		{"no header", testToken, "", http.StatusUnauthorized},
		{"wrong token", testToken, "Bearer nope", http.StatusUnauthorized},
		{"token prefix", testToken, "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"token with suffix", testToken, "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"basic scheme", testToken, "Basic " + testToken, http.StatusUnauthorized},
		{"bare token", testToken, testToken, http.StatusUnauthorized},
		{"disabled, no header", "", "", http.StatusForbidden},
		{"disabled, any token", "", "Bearer " + testToken, http.StatusForbidden},
		{"disabled, empty bearer", "", "Bearer ", http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, withToken(c.configured))
			id := e.createJob("alice", oneBoard(), "spin")
			for _, m := range mutations(id) {
				req, _ := http.NewRequest(m.method, e.srv.URL+m.path, strings.NewReader(m.body))
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.code {
					t.Errorf("%s %s: status %d, want %d", m.method, m.path, resp.StatusCode, c.code)
				}
				if c.code == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s: 401 without a WWW-Authenticate: Bearer challenge", m.method, m.path)
				}
			}
			if j := e.job(id); j.State == "destroyed" {
				t.Errorf("refused destroy destroyed the job")
			}
			if b := e.boardOf("spin", xyz{1, 0, 0}); b.OutOfService != nil || b.PendingOps != 0 {
				t.Errorf("refused mutations changed board (1,0,0): %+v", b)
			}
			var h healthJSON
			e.getJSON("/healthz", &h)
			if h.EmergencyStop {
				t.Errorf("refused emergency stop stopped the server")
			}
			if d := e.machineListed("spin").Drained; d != nil {
				t.Errorf("refused drain drained the machine: %+v", d)
			}
		})
	}
}

// TestMutationsWithTheToken: every mutation succeeds with the token.
func TestMutationsWithTheToken(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", service.Shape{Kind: service.ShapeBoard, X: 0, Y: 0, Z: 0}, "spin")
	e.completeOps()
	for _, m := range mutations(id) {
		if r := e.admin(m.method, m.path, m.body); r.code != http.StatusOK {
			t.Errorf("%s %s: status %d: %s", m.method, m.path, r.code, r.body)
		}
	}
}

func TestDestroyJob(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", oneBoard(), "spin")
	path := "/api/v1/jobs/" + itoa(id) + "/destroy"
	cases := []struct {
		name, path, body string
		code             int
		mention          string
	}{
		{"no reason", path, ``, 400, `"reason"`},
		{"blank reason", path, `{"reason": "  "}`, 400, `"reason"`},
		{"reason not a string", path, `{"reason": 5}`, 400, `"reason"`},
		{"unknown field", path, `{"reason": "x", "force": true}`, 400, `"force"`},
		{"not JSON", path, `reason=x`, 400, "JSON"},
		{"two values", path, `{"reason": "x"} {}`, 400, "more than one"},
		{"unknown job", "/api/v1/jobs/999/destroy", `{"reason": "x"}`, 404, "999"},
		{"bad id", "/api/v1/jobs/x/destroy", `{"reason": "x"}`, 400, `"id"`},
		{"destroy", path, `{"reason": "disk on fire"}`, 200, ""},
		{"again", path, `{"reason": "again"}`, 409, "already destroyed"},
	}
	for _, c := range cases {
		r := e.admin(http.MethodPost, c.path, c.body)
		if r.code != c.code {
			t.Fatalf("%s: status %d, want %d: %s", c.name, r.code, c.code, r.body)
		}
		if c.mention != "" {
			if msg := r.errorMsg(t); !strings.Contains(msg, c.mention) {
				t.Errorf("%s: error %q does not mention %s", c.name, msg, c.mention)
			}
		}
	}
	st, err := e.svc.JobState(e.ctx, id, "")
	if err != nil || st.State != service.StateDestroyed || st.Reason == nil || *st.Reason != "disk on fire" {
		t.Errorf("protocol view %+v %v, want destroyed with the operator's reason", st, err)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 100 })
	id := e.createJob("alice", oneBoard(), "spin")
	body := `{"reason": "` + strings.Repeat("x", 200) + `"}`
	r := e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", body)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", r.code, r.body)
	}
	if j := e.job(id); j.State == "destroyed" {
		t.Errorf("an oversized request destroyed the job")
	}
}

// TestOutOfService: a board taken out of service is not allocated until it
// returns, also after a restart; a job already on it keeps it unless the
// operator asks otherwise, and once freed it stays out of service.
func TestOutOfService(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/machines/spin/boards/1/0/0"
	if r := e.admin(http.MethodPost, base+"/out_of_service", `{}`); r.code != 400 || !strings.Contains(r.errorMsg(t), `"reason"`) {
		t.Fatalf("no reason: status %d %s, want 400 naming reason", r.code, r.body)
	}
	if r := e.admin(http.MethodPost, "/api/v1/machines/spin/boards/9/0/0/out_of_service", `{"reason": "x"}`); r.code != 404 {
		t.Errorf("unknown board: status %d, want 404", r.code)
	}
	r := e.admin(http.MethodPost, base+"/out_of_service", `{"reason": "fan noise"}`)
	if r.code != http.StatusOK {
		t.Fatalf("out_of_service: status %d: %s", r.code, r.body)
	}
	var b boardJSON
	r.json(t, &b)
	if b.State != "out_of_service" || b.OutOfService == nil || *b.OutOfService != "fan noise" {
		t.Fatalf("board %+v, want out of service for fan noise", b)
	}

	e.restart()
	if b := e.boardOf("spin", xyz{1, 0, 0}); b.State != "out_of_service" {
		t.Fatalf("after restart board %+v, want still out of service", b)
	}
	// Four working boards are in service: four one-board jobs get them, a
	// fifth waits.
	var ids []int64
	for _, owner := range []string{"a", "b", "c", "d", "e"} {
		ids = append(ids, e.createJob(owner, oneBoard(), "spin"))
	}
	for _, id := range ids[:4] {
		if j := e.job(id); j.State != "power" || len(j.Boards) != 1 || j.Boards[0] == (xyz{1, 0, 0}) {
			t.Fatalf("job %d = %s on %v, want allocated, not on the board out of service", id, j.State, j.Boards)
		}
	}
	last := ids[4]
	if j := e.job(last); j.State != "queued" || j.Waiting == nil || !strings.Contains(j.Waiting.Reason, "no free 1 board on spin") {
		t.Fatalf("fifth job %s waiting %+v, want queued for lack of a free board", j.State, j.Waiting)
	}

	r = e.admin(http.MethodPost, base+"/in_service", ``)
	r.json(t, &b)
	if r.code != http.StatusOK || b.OutOfService != nil || b.State != "job" {
		t.Fatalf("in_service: %d %+v, want back in service and given to the waiting job", r.code, b)
	}
	if j := e.job(last); j.State != "power" || j.Boards[0] != (xyz{1, 0, 0}) {
		t.Fatalf("fifth job after the board returned: %s on %v, want allocated on (1,0,0)", j.State, j.Boards)
	}
	e.completeOps()

	// A held board keeps its job when taken out of service...
	r = e.admin(http.MethodPost, base+"/out_of_service", `{"reason": "flaky link"}`)
	r.json(t, &b)
	if r.code != 200 || b.State != "job" || b.OutOfService == nil {
		t.Fatalf("held board taken out of service: %d %+v, want still in its job, marked", r.code, b)
	}
	if j := e.job(last); j.State != "ready" {
		t.Errorf("job %+v, want still ready", j)
	}
	// ... and stays out of service when the job ends.
	if r := e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(last)+"/destroy", `{"reason": "done"}`); r.code != 200 {
		t.Fatalf("destroy: %d %s", r.code, r.body)
	}
	e.completeOps()
	if b := e.boardOf("spin", xyz{1, 0, 0}); b.State != "out_of_service" || b.Power {
		t.Fatalf("freed board %+v, want off and still out of service", b)
	}
	e.requireConsistent()

	// destroy_job ends the job holding the board.
	e.admin(http.MethodPost, base+"/in_service", ``)
	next := e.createJob("f", service.Shape{Kind: service.ShapeBoard, X: 1, Y: 0, Z: 0}, "spin")
	e.completeOps()
	r = e.admin(http.MethodPost, base+"/out_of_service", `{"reason": "smoke", "destroy_job": true}`)
	r.json(t, &b)
	if r.code != 200 || b.State != "waiting" || b.OutOfService == nil {
		t.Fatalf("destroy_job: %d %+v, want the board powering off, out of service", r.code, b)
	}
	j := e.job(next)
	if j.State != "destroyed" || j.Reason == nil || !strings.Contains(*j.Reason, "smoke") {
		t.Errorf("job %+v, want destroyed with the out-of-service reason", j)
	}
	e.completeOps()
	e.requireConsistent()
}

// requireConsistent fails the test if the consistency check finds anything.
func (e *env) requireConsistent() {
	e.t.Helper()
	var c consistencyJSON
	e.getJSON("/api/v1/consistency", &c)
	if !c.Consistent || len(c.Problems) != 0 {
		e.t.Fatalf("inconsistent: %v", c.Problems)
	}
}

func TestSetLink(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/machines/spin/boards/0/0/1/links/"
	bad := []struct {
		path, body string
		code       int
		mention    string
	}{
		{base + "up", `{"dead": true}`, 400, `"link"`},
		{base + "6", `{"dead": true}`, 400, `"link"`},
		{base + "north", `{}`, 400, `"dead"`},
		{base + "north", `{"dead": "yes"}`, 400, `"dead"`},
		{"/api/v1/machines/nope/boards/0/0/1/links/north", `{"dead": true}`, 404, "nope"},
	}
	for _, c := range bad {
		r := e.admin(http.MethodPut, c.path, c.body)
		if r.code != c.code || !strings.Contains(r.errorMsg(t), c.mention) {
			t.Errorf("PUT %s %s: %d %s, want %d naming %s", c.path, c.body, r.code, r.body, c.code, c.mention)
		}
	}
	r := e.admin(http.MethodPut, base+"north", `{"dead": true}`)
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	hasLink := func(m machineJSON) bool {
		for _, l := range m.DeadLinks {
			if l.Board == (xyz{0, 0, 1}) && l.Link.String() == "north" {
				return true
			}
		}
		return false
	}
	var m machineJSON
	r.json(t, &m)
	if !hasLink(m) || len(m.DeadLinks) != 2 {
		t.Fatalf("dead links %+v, want the configured one and north of (0,0,1)", m.DeadLinks)
	}
	// The protocol sees it too.
	ms, err := e.svc.ListMachines(e.ctx)
	if err != nil || len(ms[0].DeadLinks) != 2 {
		t.Errorf("list_machines dead links %+v %v, want 2", ms[0].DeadLinks, err)
	}
	e.restart()
	e.getJSON("/api/v1/machines/spin", &m)
	if !hasLink(m) {
		t.Errorf("operator's dead link lost at restart: %+v", m.DeadLinks)
	}
	r = e.admin(http.MethodPut, base+"2", `{"dead": false}`) // 2 = north
	r.json(t, &m)
	if r.code != 200 || hasLink(m) || len(m.DeadLinks) != 1 {
		t.Errorf("after marking alive: %d %+v, want only the configured dead link", r.code, m.DeadLinks)
	}
}

func TestPowerBoard(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", service.Shape{Kind: service.ShapeBoard, X: 0, Y: 0, Z: 0}, "spin")
	e.completeOps()
	base := "/api/v1/machines/spin/boards/"
	cases := []struct {
		board, body string
		code        int
		mention     string
	}{
		{"0/0/0", `{"on": false}`, 409, "job " + itoa(id)},
		{"1/0/2", `{"on": true}`, 409, "dead"},
		{"1/0/0", `{"on": true}`, 409, "out of service"},
		{"1/0/0", `{}`, 400, `"on"`},
		{"1/0/0", `{"on": 1}`, 400, `"on"`},
		{"9/0/0", `{"on": true}`, 404, "(9, 0, 0)"},
	}
	for _, c := range cases {
		r := e.admin(http.MethodPost, base+c.board+"/power", c.body)
		if r.code != c.code || !strings.Contains(r.errorMsg(t), c.mention) {
			t.Errorf("power %s %s: %d %s, want %d naming %s", c.board, c.body, r.code, r.body, c.code, c.mention)
		}
	}

	// Maintenance: out of service, on, off, back in service.
	e.admin(http.MethodPost, base+"1/0/0/out_of_service", `{"reason": "firmware update"}`)
	r := e.admin(http.MethodPost, base+"1/0/0/power", `{"on": true}`)
	var b boardJSON
	r.json(t, &b)
	if r.code != 200 || b.PendingOps != 1 {
		t.Fatalf("power on: %d %+v, want one pending operation", r.code, b)
	}
	e.completeOps()
	if b := e.boardOf("spin", xyz{1, 0, 0}); !b.Power || b.PowerChangedAt == nil {
		t.Errorf("after the BMP: %+v, want powered", b)
	}
	e.requireConsistent()
	e.admin(http.MethodPost, base+"1/0/0/power", `{"on": false}`)
	e.completeOps()
	if b := e.boardOf("spin", xyz{1, 0, 0}); b.Power {
		t.Errorf("after power off: %+v, want off", b)
	}
	// A free board may be switched off whenever (it should be off anyway).
	if r := e.admin(http.MethodPost, base+"0/0/1/power", `{"on": false}`); r.code != 200 {
		t.Errorf("power off a free board: %d %s", r.code, r.body)
	}
	// Returning a board that was left on switches it off.
	e.admin(http.MethodPost, base+"1/0/0/power", `{"on": true}`)
	e.completeOps()
	r = e.admin(http.MethodPost, base+"1/0/0/in_service", ``)
	r.json(t, &b)
	if b.State != "powering" || b.PendingOps != 1 {
		t.Errorf("returned while on: %+v, want a pending power-off", b)
	}
	e.completeOps()
	if b := e.boardOf("spin", xyz{1, 0, 0}); b.Power || b.State != "free" {
		t.Errorf("returned board %+v, want free and off", b)
	}
	e.requireConsistent()
}

// TestEmergencyStop: every job destroyed, every board powered off, new
// jobs refused, across a restart, until resumed.
func TestEmergencyStop(t *testing.T) {
	e := newEnv(t)
	a := e.createJob("alice", oneBoard(), "spin")
	e.completeOps()
	b := e.createJob("bob", service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, "spin") // queued
	if r := e.admin(http.MethodPost, "/api/v1/emergency_stop", `{}`); r.code != 400 {
		t.Errorf("stop without reason: status %d, want 400", r.code)
	}
	r := e.admin(http.MethodPost, "/api/v1/emergency_stop", `{"reason": "cooling failure"}`)
	var h healthJSON
	r.json(t, &h)
	if r.code != 200 || !h.EmergencyStop {
		t.Fatalf("stop: %d %+v, want 200 with emergency_stop", r.code, h)
	}
	for _, id := range []int64{a, b} {
		if j := e.job(id); j.State != "destroyed" || j.Reason == nil || !strings.Contains(*j.Reason, "cooling failure") {
			t.Errorf("job %d after stop %+v, want destroyed with the reason", id, j)
		}
	}
	e.completeOps()
	var m machineDetailJSON
	e.getJSON("/api/v1/machines/spin", &m)
	for _, bd := range m.Boards {
		if bd.Power {
			t.Errorf("board %v still powered after the stop", bd.Logical)
		}
	}
	_, err := e.svc.CreateJob(e.ctx, service.CreateJobRequest{Owner: "carol"})
	if service.KindOf(err) != service.KindUnavailable {
		t.Errorf("create during stop: %v, want unavailable", err)
	}
	if r := e.admin(http.MethodPost, "/api/v1/emergency_stop", `{"reason": "again"}`); r.code != 200 {
		t.Errorf("second stop: status %d, want 200 (idempotent)", r.code)
	}

	e.restart()
	e.getJSON("/healthz", &h)
	if !h.EmergencyStop {
		t.Fatalf("emergency stop lost at restart")
	}
	r = e.admin(http.MethodPost, "/api/v1/resume", ``)
	r.json(t, &h)
	if r.code != 200 || h.EmergencyStop {
		t.Fatalf("resume: %d %+v, want running", r.code, h)
	}
	e.createJob("carol", oneBoard(), "spin")
	e.restart()
	if e.getJSON("/healthz", &h); h.EmergencyStop {
		t.Errorf("resume lost at restart")
	}
}
