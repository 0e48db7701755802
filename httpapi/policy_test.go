package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service/config"
)

// machineListed returns one machine of GET /api/v1/machines.
func (e *env) machineListed(name string) machineJSON {
	e.t.Helper()
	var ms []machineJSON
	e.getJSON("/api/v1/machines", &ms)
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	e.t.Fatalf("machine %s is not listed", name)
	return machineJSON{}
}

// TestDrainAndUndrain: a drained machine shows drained {reason, at, by} in
// the list and the detail (null otherwise), a job queued on it waits with
// the drain's reason, and undrain gives it its boards. Both need the token.
func TestDrainAndUndrain(t *testing.T) {
	e := newEnv(t)
	if d := e.machineListed("spin").Drained; d != nil {
		t.Fatalf("drained before any drain: %+v", d)
	}
	for _, path := range []string{"/api/v1/machines/spin/drain", "/api/v1/machines/spin/undrain"} {
		if r := e.do(http.MethodPost, path, `{"reason": "r"}`, ""); r.code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, r.code)
		}
	}
	at := e.unixNow()
	r := e.admin(http.MethodPost, "/api/v1/machines/spin/drain", `{"reason": "new firmware"}`)
	if r.code != http.StatusOK {
		t.Fatalf("drain: %d %s", r.code, r.body)
	}
	var md machineDetailJSON
	r.json(t, &md)
	want := drainJSON{Reason: "new firmware", At: at, By: "operator"}
	if md.Drained == nil || *md.Drained != want {
		t.Fatalf("drain reply: drained %+v, want %+v", md.Drained, want)
	}
	if d := e.machineListed("spin").Drained; d == nil || *d != want {
		t.Errorf("machine list: drained %+v, want %+v", d, want)
	}
	id := e.createJob("alice", oneBoard(), "spin")
	if j := e.job(id); j.State != "queued" || j.Waiting == nil || j.Waiting.Reason != "machine drained: new firmware (spin)" {
		t.Fatalf("job on the drained machine: %s, waiting %+v", j.State, j.Waiting)
	}

	e.restart()
	if d := e.machineListed("spin").Drained; d == nil || *d != want {
		t.Fatalf("after a restart: drained %+v, want %+v", d, want)
	}
	r = e.admin(http.MethodPost, "/api/v1/machines/spin/undrain", "")
	if r.code != http.StatusOK {
		t.Fatalf("undrain: %d %s", r.code, r.body)
	}
	r.json(t, &md)
	if md.Drained != nil {
		t.Errorf("undrain reply: drained %+v", md.Drained)
	}
	if j := e.job(id); j.State != "power" {
		t.Errorf("job after undrain: %s, want power", j.State)
	}
	if !strings.Contains(string(e.get("/api/v1/machines/solo").body), `"drained":null`) {
		t.Errorf("a machine that is not drained has no \"drained\": null")
	}
}

func TestDrainMistakes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/api/v1/machines/spin/drain", ``, http.StatusBadRequest, `parameter "reason": is required`},
		{"/api/v1/machines/spin/drain", `{"reason": " "}`, http.StatusBadRequest, `parameter "reason": is required`},
		{"/api/v1/machines/spin/drain", `{"reason": 3}`, http.StatusBadRequest, `field "reason" must be a string`},
		{"/api/v1/machines/spin/drain", `{"reason": "r", "until": 3}`, http.StatusBadRequest, `unknown field "until"`},
		{"/api/v1/machines/nope/drain", `{"reason": "r"}`, http.StatusNotFound, `There is no machine "nope".`},
		{"/api/v1/machines/nope/undrain", ``, http.StatusNotFound, `There is no machine "nope".`},
		{"/api/v1/machines/spin/undrain", `{"reason": "r"}`, http.StatusBadRequest, `unknown field "reason"`},
	} {
		r := e.admin(http.MethodPost, c.path, c.body)
		if r.code != c.code || !strings.Contains(r.errorMsg(t), c.msg) {
			t.Errorf("POST %s %s: %d %s, want %d %q", c.path, c.body, r.code, r.body, c.code, c.msg)
		}
	}
	if d := e.machineListed("spin").Drained; d != nil {
		t.Errorf("refused requests drained the machine: %+v", d)
	}
}

// withTokens serves the API with named tokens.
func withTokens(ts *Tokens) envOption { return func(o *Options) { o.Tokens = ts } }

func namedTokens(names ...string) []config.NamedToken {
	out := make([]config.NamedToken, len(names))
	for i, n := range names {
		out[i] = config.NamedToken{Name: n, Token: n + "-secret"}
	}
	return out
}

// TestWhoami names the holder of a valid token and refuses any other; a
// token set replaced while the server runs takes effect at once.
func TestWhoami(t *testing.T) {
	tokens := NewTokens(namedTokens("alice", "bob"))
	e := newEnv(t, withTokens(tokens))
	for _, c := range []struct {
		token string
		code  int
		name  string
	}{
		{"alice-secret", http.StatusOK, "alice"},
		{"bob-secret", http.StatusOK, "bob"},
		{"carol-secret", http.StatusUnauthorized, ""},
		{"", http.StatusUnauthorized, ""},
		{testToken, http.StatusUnauthorized, ""}, // the default token of the other tests is not in this set
	} {
		r := e.do(http.MethodGet, "/api/v1/whoami", "", c.token)
		if r.code != c.code {
			t.Errorf("whoami with %q: %d %s, want %d", c.token, r.code, r.body, c.code)
			continue
		}
		var who whoamiJSON
		if r.json(t, &who); c.code == http.StatusOK && who.Name != c.name {
			t.Errorf("whoami with %q: %q, want %q", c.token, who.Name, c.name)
		}
	}
	tokens.Set(namedTokens("carol"))
	if r := e.do(http.MethodGet, "/api/v1/whoami", "", "alice-secret"); r.code != http.StatusUnauthorized {
		t.Errorf("alice's token after it was removed: %d", r.code)
	}
	if r := e.do(http.MethodGet, "/api/v1/whoami", "", "carol-secret"); r.code != http.StatusOK || !strings.Contains(string(r.body), `"carol"`) {
		t.Errorf("carol's new token: %d %s", r.code, r.body)
	}
	tokens.Set(nil)
	if r := e.do(http.MethodGet, "/api/v1/whoami", "", "carol-secret"); r.code != http.StatusForbidden {
		t.Errorf("no tokens at all: %d, want 403", r.code)
	}

	// The single admin_token_file token is "operator".
	e = newEnv(t)
	var who whoamiJSON
	if r := e.admin(http.MethodGet, "/api/v1/whoami", ""); r.code != http.StatusOK {
		t.Fatalf("whoami with the admin token: %d", r.code)
	} else if r.json(t, &who); who.Name != "operator" {
		t.Errorf("the admin token is %q, want operator", who.Name)
	}
}

// TestActionsCarryTheTokensName: the job's history, the board, the
// emergency stop and the drain name the token's holder.
func TestActionsCarryTheTokensName(t *testing.T) {
	e := newEnv(t, withTokens(NewTokens(namedTokens("alice", "bob"))))
	id := e.createJob("user", oneBoard(), "spin")
	if r := e.do(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "hogging"}`, "alice-secret"); r.code != http.StatusOK {
		t.Fatalf("destroy: %d %s", r.code, r.body)
	}
	j := e.job(id)
	if last := j.History[len(j.History)-1].Detail; last != "destroyed by operator alice: hogging" {
		t.Errorf("job history ends with %q", last)
	}
	at := e.unixNow()
	if r := e.do(http.MethodPost, "/api/v1/machines/spin/boards/1/0/0/out_of_service", `{"reason": "fan"}`, "bob-secret"); r.code != http.StatusOK {
		t.Fatalf("out of service: %d %s", r.code, r.body)
	}
	b := e.boardOf("spin", xyz{1, 0, 0})
	if b.OutOfServiceBy == nil || *b.OutOfServiceBy != "bob" || b.OutOfServiceAt == nil || *b.OutOfServiceAt != at {
		t.Errorf("board out of service by %v at %v, want bob at %v", b.OutOfServiceBy, b.OutOfServiceAt, at)
	}
	e.do(http.MethodPost, "/api/v1/machines/spin/boards/1/0/0/in_service", ``, "bob-secret")
	if b := e.boardOf("spin", xyz{1, 0, 0}); b.OutOfServiceBy != nil || b.OutOfServiceAt != nil {
		t.Errorf("board back in service still says by %v at %v", b.OutOfServiceBy, b.OutOfServiceAt)
	}
	e.do(http.MethodPost, "/api/v1/machines/spin/drain", `{"reason": "r"}`, "bob-secret")
	if d := e.machineListed("spin").Drained; d == nil || d.By != "bob" {
		t.Errorf("drained by %+v, want bob", d)
	}
	e.do(http.MethodPost, "/api/v1/emergency_stop", `{"reason": "smoke"}`, "alice-secret")
	var st emergencyStopJSON
	if e.getJSON("/api/v1/emergency_stop", &st); st.By == nil || *st.By != "alice" {
		t.Errorf("emergency stop by %v, want alice", st.By)
	}
}

// TestAuditLog: every change through the API is an entry naming who, from
// where, what, on which target and why; the filters and pages select them;
// the entries survive a restart; refused requests leave none.
func TestAuditLog(t *testing.T) {
	e := newEnv(t, withTokens(NewTokens(namedTokens("alice", "bob"))))
	job := e.createJob("user", oneBoard(), "spin")
	as := func(who, method, path, body string) {
		t.Helper()
		if r := e.do(method, path, body, who+"-secret"); r.code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, r.code, r.body)
		}
		e.clock.Advance(10 * time.Second)
	}
	start := e.unixNow()
	board := "/api/v1/machines/spin/boards/1/0/0"
	as("alice", http.MethodPost, "/api/v1/jobs/"+itoa(job)+"/destroy", `{"reason": "stuck"}`)
	as("bob", http.MethodPost, board+"/out_of_service", `{"reason": "fan"}`)
	as("bob", http.MethodPost, board+"/power", `{"on": true}`)
	as("bob", http.MethodPut, board+"/links/north", `{"dead": true}`)
	as("alice", http.MethodPost, board+"/in_service", ``)
	as("alice", http.MethodPost, "/api/v1/machines/solo/drain", `{"reason": "moving"}`)
	as("alice", http.MethodPost, "/api/v1/machines/solo/undrain", ``)
	as("bob", http.MethodPost, "/api/v1/emergency_stop", `{"reason": "smoke"}`)
	as("bob", http.MethodPost, "/api/v1/resume", ``)
	// Refused: a wrong token, a missing reason, an unknown machine.
	e.do(http.MethodPost, "/api/v1/machines/spin/drain", `{"reason": "x"}`, "mallory")
	e.do(http.MethodPost, "/api/v1/machines/spin/drain", `{}`, "alice-secret")
	e.do(http.MethodPost, "/api/v1/machines/nope/drain", `{"reason": "x"}`, "alice-secret")

	e.restart()
	var all auditListJSON
	e.getJSON("/api/v1/audit", &all)
	if all.Total != 9 || len(all.Entries) != 9 {
		t.Fatalf("%d entries (total %d), want 9: %+v", len(all.Entries), all.Total, all.Entries)
	}
	type entry struct{ by, action, target, reason string }
	want := []entry{
		{"bob", "resume", "server", ""},
		{"bob", "emergency_stop", "server", "smoke"},
		{"alice", "undrain", "machine solo", ""},
		{"alice", "drain", "machine solo", "moving"},
		{"alice", "board_in_service", "board (1, 0, 0) of spin", ""},
		{"bob", "link", "link north of board (1, 0, 0) of spin", "dead"},
		{"bob", "board_power", "board (1, 0, 0) of spin", "on"},
		{"bob", "board_out_of_service", "board (1, 0, 0) of spin", "fan"},
		{"alice", "destroy_job", "job " + itoa(job), "stuck"},
	}
	for i, w := range want {
		got := all.Entries[i]
		reason := ""
		if got.Reason != nil {
			reason = *got.Reason
		}
		if (entry{got.By, got.Action, got.Target, reason}) != w {
			t.Errorf("entry %d: %s %s %q %q, want %+v", i, got.By, got.Action, got.Target, reason, w)
		}
		if wantAt := start + float64(8-i)*10; got.At != wantAt || got.From == nil || !strings.HasPrefix(*got.From, "127.0.0.1:") {
			t.Errorf("entry %d: at %v from %v, want %v from 127.0.0.1", i, got.At, got.From, wantAt)
		}
	}
	if e := all.Entries[8]; e.JobID == nil || *e.JobID != job || e.Machine == nil || *e.Machine != "spin" {
		t.Errorf("destroy entry: job %v machine %v", e.JobID, e.Machine)
	}
	if e := all.Entries[7]; e.Machine == nil || *e.Machine != "spin" || e.Board == nil || *e.Board != (xyz{1, 0, 0}) {
		t.Errorf("out-of-service entry: machine %v board %v", e.Machine, e.Board)
	}

	count := func(query string) int {
		t.Helper()
		var l auditListJSON
		e.getJSON("/api/v1/audit?"+query, &l)
		if len(l.Entries) != min(max(l.Total-l.Offset, 0), l.Limit) {
			t.Errorf("%s: %d entries of %d with limit %d", query, len(l.Entries), l.Total, l.Limit)
		}
		return l.Total
	}
	for query, n := range map[string]int{
		"by=alice": 4, "by=bob": 5, "by=carol": 0,
		"machine=spin": 5, "machine=solo": 2, "machine=spin&board=1,0,0": 4, "machine=spin&board=0,0,0": 0,
		"job=" + itoa(job): 1, "action=drain": 1,
		"since=" + strconv.FormatFloat(start+25, 'f', -1, 64): 6,
		"until=" + strconv.FormatFloat(start+25, 'f', -1, 64): 3,
		"by=bob&machine=spin":   3,
		"by=alice&machine=spin": 2,
		"limit=2&offset=8":      9,
	} {
		if got := count(query); got != n {
			t.Errorf("audit?%s: %d entries, want %d", query, got, n)
		}
	}
	var page auditListJSON
	e.getJSON("/api/v1/audit?limit=2&offset=1", &page)
	if len(page.Entries) != 2 || page.Entries[0].ID != all.Entries[1].ID || page.Entries[1].ID != all.Entries[2].ID {
		t.Errorf("page 2 of 2: %+v", page.Entries)
	}
}

func TestAuditFilterMistakes(t *testing.T) {
	e := newEnv(t)
	for query, want := range map[string]string{
		"job=x":                            `parameter "job": must be a positive integer job id, not "x"`,
		"job=0":                            `parameter "job"`,
		"board=1,2":                        `parameter "board": must be x,y,z`,
		"board=1,2,3,4":                    `parameter "board": must be x,y,z`,
		"machine=spin&board=1,0,3":         `parameter "board": z must be 0, 1 or 2, not 3`,
		"board=1,0,0":                      "a board filter needs the machine",
		"since=yesterday":                  `parameter "since"`,
		"since=2000&until=1000":            "the time range ends",
		"limit=0":                          `parameter "limit": must be between 1 and 1000`,
		"offset=-1":                        `parameter "offset"`,
		"machine=spin&board=a,b,c&limit=2": `parameter "board"`,
	} {
		r := e.get("/api/v1/audit?" + query)
		if r.code != http.StatusBadRequest || !strings.Contains(r.errorMsg(t), want) {
			t.Errorf("audit?%s: %d %s, want 400 with %q", query, r.code, r.body, want)
		}
	}
}

// applyPolicy reconfigures the test machines with a [policy] table.
func (e *env) applyPolicy(policy string) {
	e.t.Helper()
	cfg, err := config.Parse([]byte("[policy]\n"+policy+"\n"+testConfig), "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.ApplyConfig(e.ctx, cfg); err != nil {
		e.t.Fatal(err)
	}
}

// TestJobDurationExpiry: under max_job_duration a live job says when it
// ends (duration_expires_at) beside its keepalive expiry (expires_at).
func TestJobDurationExpiry(t *testing.T) {
	e := newEnv(t)
	e.applyPolicy(`max_job_duration = "2h"`)
	id := e.createJob("alice", oneBoard(), "spin")
	created := e.unixNow()
	e.clock.Advance(time.Minute)
	j := e.job(id)
	if j.DurationExpiresAt == nil || *j.DurationExpiresAt != created+7200 || j.ExpiresAt == nil || *j.ExpiresAt != created+60 {
		t.Fatalf("duration_expires_at %v expires_at %v, want %v and %v", ptrVal(j.DurationExpiresAt), ptrVal(j.ExpiresAt),
			created+7200, created+60)
	}
	var l jobListJSON
	if e.getJSON("/api/v1/jobs", &l); len(l.Jobs) != 1 || ptrVal(l.Jobs[0].DurationExpiresAt) != created+7200 {
		t.Errorf("job list: %+v", l.Jobs)
	}
	e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "x"}`)
	if j := e.job(id); j.DurationExpiresAt != nil {
		t.Errorf("destroyed job: duration_expires_at %v", *j.DurationExpiresAt)
	}
	e.applyPolicy("")
	if j := e.job(e.createJob("alice", oneBoard(), "spin")); !strings.Contains(string(e.get("/api/v1/jobs/"+itoa(j.JobID)).body), `"duration_expires_at":null`) {
		t.Errorf("without max_job_duration the job has no \"duration_expires_at\": null")
	}
}
