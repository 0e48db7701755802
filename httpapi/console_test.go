package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (e *env) unixNow() float64 { return float64(e.clock.Now().UnixNano()) / 1e9 }

func (e *env) jobIDs(path string) []int64 {
	e.t.Helper()
	var l jobListJSON
	e.getJSON(path, &l)
	ids := make([]int64, 0, len(l.Jobs))
	for _, j := range l.Jobs {
		ids = append(ids, j.JobID)
	}
	if l.Total < len(ids) {
		e.t.Errorf("%s: total %d below the %d jobs listed", path, l.Total, len(ids))
	}
	return ids
}

// TestJobListTimeRange: since/until select the jobs that existed at some
// time between them, in Unix seconds or RFC 3339.
func TestJobListTimeRange(t *testing.T) {
	e := newEnv(t)
	t0 := e.unixNow()
	early := e.createJob("alice", oneBoard(), "spin") // lives t0 .. t0+1h
	e.clock.Advance(time.Hour)
	if r := e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(early)+"/destroy", `{"reason": "done"}`); r.code != 200 {
		t.Fatalf("destroy: %d %s", r.code, r.body)
	}
	e.clock.Advance(time.Hour)
	late := e.createJob("bob", oneBoard(), "spin") // from t0+2h, still live

	rfc := func(s float64) string { return time.Unix(int64(s), 0).UTC().Format(time.RFC3339) }
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{late, early}},
		{fmt.Sprintf("until=%d", int64(t0+1800)), []int64{early}},
		{fmt.Sprintf("since=%d", int64(t0+3600+60)), []int64{late}},
		{fmt.Sprintf("since=%d&until=%d", int64(t0+1800), int64(t0+3*3600)), []int64{late, early}},
		{"since=" + rfc(t0+5400) + "&until=" + rfc(t0+6000), nil},
		{fmt.Sprintf("since=%d&state=destroyed", int64(t0)), []int64{early}},
		{fmt.Sprintf("since=%d&owner=bob", int64(t0)), []int64{late}},
	}
	for _, c := range cases {
		got := e.jobIDs("/api/v1/jobs?" + c.query)
		if fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("jobs?%s = %v, want %v", c.query, got, c.want)
		}
	}

	bad := []struct{ query, names string }{
		{"since=yesterday", `"since"`},
		{"until=-5", `"until"`},
		{"since=2024-13-01T00:00:00Z", `"since"`},
		{fmt.Sprintf("since=%d&until=%d", int64(t0+100), int64(t0)), "before it starts"},
	}
	for _, c := range bad {
		r := e.get("/api/v1/jobs?" + c.query)
		if r.code != http.StatusBadRequest || !strings.Contains(r.errorMsg(t), c.names) {
			t.Errorf("jobs?%s: %d %s, want 400 naming %s", c.query, r.code, r.body, c.names)
		}
	}
}

// TestJobKeepaliveFields: a live job says when its client was last heard
// from and when it will time out; a keepalive call moves both.
func TestJobKeepaliveFields(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", oneBoard(), "spin") // keepalive 60 s
	created := e.unixNow()
	j := e.job(id)
	if j.LastSeen == nil || *j.LastSeen != created || j.ExpiresAt == nil || *j.ExpiresAt != created+60 {
		t.Fatalf("last_seen %v expires_at %v, want %v and %v", ptrVal(j.LastSeen), ptrVal(j.ExpiresAt), created, created+60)
	}
	e.clock.Advance(20 * time.Second)
	if err := e.svc.Keepalive(e.ctx, id, "10.0.0.7"); err != nil {
		t.Fatal(err)
	}
	var l jobListJSON
	e.getJSON("/api/v1/jobs?state=live", &l)
	if len(l.Jobs) != 1 || l.Jobs[0].ExpiresAt == nil || *l.Jobs[0].ExpiresAt != created+80 {
		t.Fatalf("job list after a keepalive: %+v, want expires_at %v", l.Jobs, created+80)
	}
	e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "x"}`)
	if j := e.job(id); j.LastSeen != nil || j.ExpiresAt != nil {
		t.Errorf("destroyed job has last_seen %v expires_at %v, want none", ptrVal(j.LastSeen), ptrVal(j.ExpiresAt))
	}
}

func ptrVal(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// TestJobBoardsOutliveTheJob: the boards a job had are listed after it is
// destroyed, with their positions and times.
func TestJobBoardsOutliveTheJob(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", oneBoard(), "spin")
	e.completeOps()
	held := e.job(id).Boards
	allocated := e.unixNow()
	e.clock.Advance(time.Minute)
	e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "done"}`)
	if got := e.job(id).Boards; len(got) != 0 {
		t.Fatalf("destroyed job still lists boards %v", got)
	}
	var had []jobAllocationJSON
	e.getJSON("/api/v1/jobs/"+itoa(id)+"/boards", &had)
	if len(had) != 1 || had[0].Board != held[0] || had[0].Machine != "spin" || had[0].Retired ||
		had[0].Physical == nil || had[0].AllocatedAt != allocated || had[0].FreedAt == nil || *had[0].FreedAt != allocated+60 {
		t.Fatalf("boards of destroyed job: %+v, want %v on spin from %v to %v", had, held, allocated, allocated+60)
	}
	if r := e.get("/api/v1/jobs/999/boards"); r.code != http.StatusNotFound {
		t.Errorf("boards of an unknown job: %d, want 404", r.code)
	}
	queued := e.createJob("bob", oneBoard(), "solo")
	queued2 := e.createJob("carol", oneBoard(), "solo")
	e.getJSON("/api/v1/jobs/"+itoa(queued2)+"/boards", &had)
	if len(had) != 0 || queued == queued2 {
		t.Errorf("a queued job lists boards %+v", had)
	}
}

// TestMachineBMPs: each BMP lists its boards and the operations it has yet
// to do.
func TestMachineBMPs(t *testing.T) {
	e := newEnv(t)
	var bmps []bmpWorkJSON
	e.getJSON("/api/v1/machines/spin/bmps", &bmps)
	if len(bmps) != 1 || bmps[0].Boards != 5 || bmps[0].OpenOps != 0 || bmps[0].OldestOpAt != nil {
		t.Fatalf("idle machine's BMPs: %+v, want one with the 5 boards that have a slot, and no work", bmps)
	}
	e.createJob("alice", oneBoard(), "spin")
	asked := e.unixNow()
	e.getJSON("/api/v1/machines/spin/bmps", &bmps)
	if bmps[0].OpenOps == 0 || bmps[0].OldestOpAt == nil || *bmps[0].OldestOpAt != asked || bmps[0].Unreachable {
		t.Fatalf("BMPs with a job powering: %+v, want open operations since %v", bmps, asked)
	}
	e.completeOps()
	e.getJSON("/api/v1/machines/spin/bmps", &bmps)
	if bmps[0].OpenOps != 0 {
		t.Errorf("open ops after completion: %d", bmps[0].OpenOps)
	}
	if r := e.get("/api/v1/machines/nope/bmps"); r.code != http.StatusNotFound {
		t.Errorf("unknown machine: %d, want 404", r.code)
	}
}

// TestMachineUtilisation: utilisation now and per step from the allocation
// history: one of the five working boards held for half of one step.
func TestMachineUtilisation(t *testing.T) {
	e := newEnv(t)
	const step = 30 * time.Minute
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(step).Add(step).Sub(now)) // the start of a step
	id := e.createJob("alice", oneBoard(), "spin")
	e.clock.Advance(15 * time.Minute)
	e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "done"}`)
	e.clock.Advance(45 * time.Minute) // the start of the step after next
	e.createJob("bob", oneBoard(), "spin")
	e.clock.Advance(15 * time.Minute)

	var u utilisationJSON
	e.getJSON("/api/v1/machines/spin/utilisation?window=2h&step=30m", &u)
	if u.Boards != 5 || u.InUse != 1 || u.Now != 0.2 || u.Step != 1800 || len(u.History) != 4 {
		t.Fatalf("utilisation %+v, want 1 of 5 boards now over 4 steps of 1800 s", u)
	}
	want := []float64{0, 0.1, 0, 0.2} // half a step at 1/5; then bob's board all of the current step so far
	for i := range want {
		if math.Abs(u.History[i]-want[i]) > 1e-9 {
			t.Errorf("history %v, want %v", u.History, want)
			break
		}
	}
	if got := time.Unix(int64(u.From), 0); !got.Equal(e.clock.Now().Truncate(step).Add(-3 * step)) {
		t.Errorf("history starts at %v, want three steps before the current one", got)
	}

	var def utilisationJSON
	e.getJSON("/api/v1/machines/spin/utilisation", &def)
	if len(def.History) != 48 || def.Step != 1800 {
		t.Errorf("default: %d steps of %v s, want 48 of 1800 (24 h)", len(def.History), def.Step)
	}
	for _, q := range []string{"window=1s", "window=1000h", "step=banana", "window=24h&step=1m", "step=2h&window=1h"} {
		r := e.get("/api/v1/machines/spin/utilisation?" + q)
		if r.code != http.StatusBadRequest || !strings.Contains(r.errorMsg(t), "parameter") {
			t.Errorf("utilisation?%s: %d %s, want 400 naming the parameter", q, r.code, r.body)
		}
	}
	if r := e.get("/api/v1/machines/nope/utilisation"); r.code != http.StatusNotFound {
		t.Errorf("unknown machine: %d, want 404", r.code)
	}
}

// TestEmergencyStopDetails: the stop's reason, time and operator are kept
// across a restart and remain readable after a resume.
func TestEmergencyStopDetails(t *testing.T) {
	e := newEnv(t)
	var st emergencyStopJSON
	e.getJSON("/api/v1/emergency_stop", &st)
	if st.Stopped || st.Reason != nil || st.At != nil {
		t.Fatalf("before any stop: %+v", st)
	}
	at := e.unixNow()
	if r := e.admin(http.MethodPost, "/api/v1/emergency_stop", `{"reason": "cooling failed"}`); r.code != 200 {
		t.Fatalf("stop: %d %s", r.code, r.body)
	}
	e.restart()
	e.getJSON("/api/v1/emergency_stop", &st)
	if !st.Stopped || st.Reason == nil || *st.Reason != "cooling failed" || st.At == nil || *st.At != at ||
		st.By == nil || *st.By != "operator" {
		t.Fatalf("after a stop and a restart: %+v", st)
	}
	e.admin(http.MethodPost, "/api/v1/resume", "")
	e.getJSON("/api/v1/emergency_stop", &st)
	if st.Stopped || st.Reason == nil || *st.Reason != "cooling failed" {
		t.Errorf("after resume: %+v, want not stopped, the last stop's reason kept", st)
	}
}
