package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

func oneBoard() service.Shape { return service.Shape{Kind: service.ShapeOneBoard} }

// boardOf returns one board of a machine's map, failing if it is missing.
func (e *env) boardOf(machine string, pos xyz) boardJSON {
	e.t.Helper()
	var m machineDetailJSON
	e.getJSON("/api/v1/machines/"+machine, &m)
	for _, b := range m.Boards {
		if b.Logical == pos {
			return b
		}
	}
	e.t.Fatalf("machine %s has no board %v", machine, pos)
	return boardJSON{}
}

func (e *env) job(id int64) jobJSON {
	e.t.Helper()
	var j jobJSON
	e.getJSON("/api/v1/jobs/"+itoa(id), &j)
	return j
}

// TestJobLifeCycleAsSeenByOperator follows one job from allocation to its
// boards' return through the job, board map, operations and board history
// endpoints.
func TestJobLifeCycleAsSeenByOperator(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", oneBoard(), "spin")

	j := e.job(id)
	if j.State != "power" || j.StateCode != 2 || j.Owner != "alice" || j.Machine == nil || *j.Machine != "spin" || len(j.Boards) != 1 {
		t.Fatalf("new job %+v, want alice's job powering one board on spin", j)
	}
	if len(j.PendingOps) == 0 || j.PendingOps[0].Op != service.OpPowerOn {
		t.Errorf("pending ops %+v, want a power_on first", j.PendingOps)
	}
	var ops []pendingOpJSON
	e.getJSON("/api/v1/operations", &ops)
	if len(ops) != len(j.PendingOps) {
		t.Errorf("%d pending operations listed, the job has %d", len(ops), len(j.PendingOps))
	}
	for _, op := range ops { // one board alone: all six links switched off at once
		if op.Op == service.OpLinkOff && (len(op.Links) != 6 || op.Link == nil || *op.Link != op.Links[0]) {
			t.Errorf("link operation %+v, want every link listed with the first as link", op)
		}
	}
	if !slices.ContainsFunc(ops, func(op pendingOpJSON) bool { return op.Op == service.OpLinkOff }) {
		t.Errorf("no link operation among %+v", ops)
	}
	pos := j.Boards[0]
	if b := e.boardOf("spin", pos); b.State != "job" || b.JobID == nil || *b.JobID != id || b.PendingOps == 0 {
		t.Errorf("board %v = %+v, want held by job %d with pending operations", pos, b, id)
	}

	e.completeOps()
	j = e.job(id)
	if j.State != "ready" || j.ReadyAt == nil || j.Power == nil || !*j.Power || len(j.PendingOps) != 0 {
		t.Fatalf("job after power-on %+v, want ready and powered with nothing pending", j)
	}
	if j.Width == nil || *j.Width != 8 || *j.Height != 8 || len(j.Connections) != 1 {
		t.Errorf("job size %v x %v connections %v, want 8 x 8 chips with one connection", j.Width, j.Height, j.Connections)
	}
	states := []string{}
	for _, ev := range j.History {
		states = append(states, ev.State)
	}
	if got := strings.Join(states, ","); !strings.HasPrefix(got, "queued,power") || !strings.HasSuffix(got, "ready") {
		t.Errorf("history states %s, want queued, power ... ready", got)
	}
	if b := e.boardOf("spin", pos); !b.Power || b.PendingOps != 0 {
		t.Errorf("board %v after power-on %+v, want powered and idle", pos, b)
	}

	r := e.admin(http.MethodPost, "/api/v1/jobs/"+itoa(id)+"/destroy", `{"reason": "maintenance"}`)
	if r.code != http.StatusOK {
		t.Fatalf("destroy: status %d: %s", r.code, r.body)
	}
	r.json(t, &j)
	if j.State != "destroyed" || j.Reason == nil || *j.Reason != "maintenance" || j.DestroyedAt == nil {
		t.Errorf("destroyed job %+v, want destroyed for maintenance", j)
	}
	if b := e.boardOf("spin", pos); b.State != "waiting" || b.WaitingJobID == nil || *b.WaitingJobID != id {
		t.Errorf("board %v after destroy %+v, want waiting for its power-off", pos, b)
	}
	e.completeOps()
	if b := e.boardOf("spin", pos); b.State != "free" || b.Power {
		t.Errorf("board %v after power-off %+v, want free and off", pos, b)
	}
	var hist []allocationJSON
	e.getJSON("/api/v1/machines/spin/boards/"+xyzPath(pos)+"/history", &hist)
	if len(hist) != 1 || hist[0].JobID != id || hist[0].Owner != "alice" || hist[0].FreedAt == nil {
		t.Errorf("board history %+v, want alice's job %d, freed", hist, id)
	}
}

func xyzPath(p xyz) string {
	return itoa(int64(p[0])) + "/" + itoa(int64(p[1])) + "/" + itoa(int64(p[2]))
}

func TestJobListFilters(t *testing.T) {
	e := newEnv(t)
	a := e.createJob("alice", oneBoard(), "spin")
	b := e.createJob("bob", oneBoard(), "spin")
	c := e.createJob("carol", oneBoard(), "solo")
	if err := e.svc.DestroyJob(e.ctx, b, nil, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		want  []int64
		total int
	}{
		{"", []int64{c, b, a}, 3},
		{"?owner=alice", []int64{a}, 1},
		{"?state=live", []int64{c, a}, 2},
		{"?state=destroyed", []int64{b}, 1},
		{"?state=4", []int64{b}, 1},
		{"?state=queued", []int64{}, 0},
		{"?machine=solo", []int64{c}, 1},
		{"?machine=spin&state=live", []int64{a}, 1},
		{"?limit=1&offset=1", []int64{b}, 3},
		{"?offset=5", []int64{}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			var l jobListJSON
			e.getJSON("/api/v1/jobs"+tc.query, &l)
			got := []int64{}
			for _, j := range l.Jobs {
				got = append(got, j.JobID)
			}
			if mustJSON(got) != mustJSON(tc.want) || l.Total != tc.total {
				t.Errorf("jobs %v total %d, want %v total %d", got, l.Total, tc.want, tc.total)
			}
		})
	}
}

// TestWaitReasons: a queued job says where it stands in each queue and
// why; under the reserve policy the blocked head names the region it
// holds, the job behind it the reservation that keeps it out, and the
// machine's JSON carries the reservation.
func TestWaitReasons(t *testing.T) {
	for _, tc := range []struct {
		policy, head, behind string
		reserved             bool
	}{
		{policy: "fifo", head: "no free 2x1 triads on spin", behind: "behind 1 job on spin"},
		{policy: "reserve", head: "head of the queue; boards reserved: 0,0 2×1 on spin",
			behind: "boards it could use are reserved for job 2 on spin", reserved: true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e := newEnv(t)
			cfg, err := config.Parse([]byte("[scheduler]\npolicy = \""+tc.policy+"\"\n"+testConfig), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ApplyConfig(e.ctx, cfg); err != nil {
				t.Fatal(err)
			}
			e.createJob("alice", oneBoard(), "spin")
			whole := e.createJob("bob", service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, "spin")
			behind := e.createJob("carol", oneBoard(), "spin")

			var q []jobJSON
			e.getJSON("/api/v1/queue", &q)
			if len(q) != 2 || q[0].JobID != whole || q[1].JobID != behind {
				t.Fatalf("queue %+v, want jobs %d then %d", q, whole, behind)
			}
			w := q[0].Waiting
			if w == nil || len(w.Positions) != 1 || w.Positions[0] != (queuePositionJSON{Machine: "spin", Position: 1}) {
				t.Fatalf("head's waiting %+v, want position 1 on spin", w)
			}
			if w.Reason != tc.head {
				t.Errorf("head's reason %q, want %q", w.Reason, tc.head)
			}
			w = q[1].Waiting
			if w == nil || len(w.Positions) != 1 || w.Positions[0].Position != 2 || w.Reason != tc.behind {
				t.Errorf("second job's waiting %+v, want position 2, %q", w, tc.behind)
			}
			if j := e.job(behind); j.Waiting == nil || j.Waiting.Reason != w.Reason {
				t.Errorf("job detail waiting %+v, want the queue's %+v", j.Waiting, w)
			}
			var m machineJSON
			e.getJSON("/api/v1/machines/spin", &m)
			if m.QueueLength == nil || *m.QueueLength != 2 {
				t.Errorf("queue length %v, want 2", m.QueueLength)
			}
			want := (*reservationJSON)(nil)
			if tc.reserved {
				want = &reservationJSON{Job: whole, X: 0, Y: 0, W: 2, H: 1}
			}
			if mustJSON(m.Reservation) != mustJSON(want) {
				t.Errorf("machine reservation %s, want %s", mustJSON(m.Reservation), mustJSON(want))
			}
			var list []machineJSON
			e.getJSON("/api/v1/machines", &list)
			if len(list) == 0 || mustJSON(list[0].Reservation) != mustJSON(want) {
				t.Errorf("machine list %s, want spin's reservation %s", mustJSON(list), mustJSON(want))
			}
		})
	}
}
