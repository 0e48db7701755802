package httpapi

import (
	"net/http"
	"strings"
	"testing"
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
