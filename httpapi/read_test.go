package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// TestReadStatusCodes: every read endpoint answers good requests with 200
// and bad ones with the right status and a message naming what is wrong.
func TestReadStatusCodes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		path    string
		code    int
		mention string // the error message must contain it
	}{
		{"/version", 200, ""},
		{"/api/v1/version", 200, ""},
		{"/healthz", 200, ""},
		{"/api/v1/health", 200, ""},
		{"/api/v1/machines", 200, ""},
		{"/api/v1/machines/spin", 200, ""},
		{"/api/v1/machines/nope", 404, "nope"},
		{"/api/v1/machines/spin/boards/0/0/1", 200, ""},
		{"/api/v1/machines/spin/boards/0/0/x", 400, `"x"`},
		{"/api/v1/machines/spin/boards/0/y/0", 400, `"y"`},
		{"/api/v1/machines/spin/boards/0/0/3", 400, `"z"`},
		{"/api/v1/machines/spin/boards/5/0/0", 404, "(5, 0, 0)"},
		{"/api/v1/machines/nope/boards/0/0/0", 404, "nope"},
		{"/api/v1/machines/spin/boards/0/0/0/history", 200, ""},
		{"/api/v1/machines/spin/boards/7/0/0/history", 404, "(7, 0, 0)"},
		{"/api/v1/machines/spin/boards/0/0/0/reports", 200, ""},
		{"/api/v1/machines/nope/boards/0/0/0/reports", 404, "nope"},
		{"/api/v1/jobs", 200, ""},
		{"/api/v1/jobs?state=queued,ready&owner=x&machine=spin&limit=5&offset=2", 200, ""},
		{"/api/v1/jobs?state=live", 200, ""},
		{"/api/v1/jobs?state=bogus", 400, `"state"`},
		{"/api/v1/jobs?limit=0", 400, `"limit"`},
		{"/api/v1/jobs?limit=many", 400, `"limit"`},
		{"/api/v1/jobs?offset=-1", 400, `"offset"`},
		{"/api/v1/jobs/abc", 400, `"id"`},
		{"/api/v1/jobs/0", 400, `"id"`},
		{"/api/v1/jobs/999", 404, "999"},
		{"/api/v1/queue", 200, ""},
		{"/api/v1/operations", 200, ""},
		{"/api/v1/consistency", 200, ""},
		{"/api/v1/where_is?machine=spin&x=1&y=0&z=1", 200, ""},
		{"/api/v1/where_is?machine=spin&cabinet=0&frame=0&board=4", 200, ""},
		{"/api/v1/where_is?machine=spin&chip_x=13&chip_y=1", 200, ""},
		{"/api/v1/where_is?machine=spin&x=1&y=0&z=2&foo=1", 400, `"foo"`},
		{"/api/v1/where_is?machine=spin", 400, "exactly one of"},
		{"/api/v1/where_is?machine=spin&x=1&y=0", 400, "exactly one of"},
		{"/api/v1/where_is?machine=spin&x=a&y=0&z=0", 400, `"x"`},
		{"/api/v1/where_is?machine=spin&x=1&x=2&y=0&z=0", 400, `"x"`},
		{"/api/v1/where_is?machine=spin&x=9&y=0&z=0", 404, ""},
		{"/api/v1/where_is?job_id=999&chip_x=0&chip_y=0", 404, ""},
		{"/api/v1/no/such/thing", 404, "/api/v1/no/such/thing"},
		{"/metrics", 200, ""},
		{"/", 200, ""},
		{"/machines/spin", 200, ""},
		{"/machines/nope", 404, ""},
		{"/jobs/999", 404, ""},
		{"/jobs/abc", 404, ""},
		{"/static/app.js", 200, ""},
		{"/static/style.css", 200, ""},
		{"/static/nope.js", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := e.get(c.path)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			if c.mention != "" {
				if msg := r.errorMsg(t); !strings.Contains(msg, c.mention) {
					t.Errorf("error %q does not mention %s", msg, c.mention)
				}
			}
			if strings.HasPrefix(c.path, "/api/") && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q, want JSON", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/api/v1/machines", "{}", testToken)
	if r.code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", r.code)
	}
	if msg := r.errorMsg(t); !strings.Contains(msg, "POST") {
		t.Errorf("error %q does not name the method", msg)
	}
}

func TestVersionAndHealth(t *testing.T) {
	e := newEnv(t)
	var v versionJSON
	e.getJSON("/version", &v)
	if v.Version != "9.8.7" {
		t.Errorf("version %q, want 9.8.7", v.Version)
	}
	var h healthJSON
	e.getJSON("/healthz", &h)
	if h.Status != "ok" || !h.DatabaseOK || h.EmergencyStop || h.Checks["database"] != "ok" {
		t.Errorf("health %+v, want ok with the database ok and no emergency stop", h)
	}
}

// TestHealthChecks: a failing extra check (e.g. stopped BMP workers) makes
// the server unhealthy (503) with the check's error shown.
func TestHealthChecks(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Checks = map[string]func(context.Context) error{
			"bmp_workers": func(context.Context) error { return errors.New("1 of 2 BMP workers stopped") },
			"other":       func(context.Context) error { return nil },
		}
	})
	r := e.get("/healthz")
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", r.code)
	}
	var h healthJSON
	r.json(t, &h)
	if h.Status != "unhealthy" || h.Checks["bmp_workers"] != "1 of 2 BMP workers stopped" || h.Checks["other"] != "ok" || !h.DatabaseOK {
		t.Errorf("health %+v, want unhealthy by bmp_workers only", h)
	}
}

func TestMachineList(t *testing.T) {
	e := newEnv(t)
	var ms []machineJSON
	e.getJSON("/api/v1/machines", &ms)
	if len(ms) != 2 || ms[0].Name != "spin" || ms[1].Name != "solo" {
		t.Fatalf("machines %+v, want spin then solo", ms)
	}
	spin := ms[0]
	if spin.Width != 2 || spin.Height != 1 || strings.Join(spin.Tags, ",") != "default" {
		t.Errorf("spin %+v, want 2x1 tagged default", spin)
	}
	if len(spin.DeadBoards) != 1 || spin.DeadBoards[0] != (xyz{1, 0, 2}) {
		t.Errorf("dead boards %v, want [(1,0,2)]", spin.DeadBoards)
	}
	if len(spin.DeadLinks) != 1 || spin.DeadLinks[0].Board != (xyz{0, 0, 0}) || spin.DeadLinks[0].Link.String() != "east" {
		t.Errorf("dead links %+v, want east of (0,0,0)", spin.DeadLinks)
	}
	// East of a z=0 board is the z=2 board one triad down: chip offset (4, -4).
	if got := spin.DeadLinks[0].Vector; got != [2]int{4, -4} {
		t.Errorf("dead link vector %v, want [4 -4]", got)
	}
	if spin.QueueLength == nil || *spin.QueueLength != 0 {
		t.Errorf("queue length %v, want 0", spin.QueueLength)
	}
	if spin.BoardCounts[service.BoardFree] != 5 || spin.BoardCounts[service.BoardDead] != 1 {
		t.Errorf("board counts %v, want 5 free and 1 dead", spin.BoardCounts)
	}
}

func TestMachineBoardMap(t *testing.T) {
	e := newEnv(t)
	var m machineDetailJSON
	e.getJSON("/api/v1/machines/spin", &m)
	if len(m.Boards) != 6 {
		t.Fatalf("%d boards, want all 6 slots of 2x1 triads", len(m.Boards))
	}
	if m.Priority != 0 || len(m.BMPs) != 1 || m.BMPs[0].Address != "10.9.0.0" {
		t.Errorf("priority %d bmps %+v, want 0 and one BMP at 10.9.0.0", m.Priority, m.BMPs)
	}
	byPos := map[xyz]boardJSON{}
	for _, b := range m.Boards {
		byPos[b.Logical] = b
	}
	b := byPos[xyz{1, 0, 1}]
	if b.Physical == nil || *b.Physical != [3]int{0, 0, 4} || b.IP != "10.9.0.33" || b.State != "free" {
		t.Errorf("board (1,0,1) = %+v, want slot 0/0/4, IP 10.9.0.33, free", b)
	}
	if b.Chip != [2]int{20, 4} {
		t.Errorf("board (1,0,1) Ethernet chip %v, want (20, 4)", b.Chip)
	}
	if d := byPos[xyz{1, 0, 2}]; !d.Dead || d.State != "dead" {
		t.Errorf("board (1,0,2) = %+v, want dead", d)
	}
	var one boardJSON
	e.getJSON("/api/v1/machines/spin/boards/1/0/1", &one)
	if one.IP != b.IP || one.Logical != b.Logical {
		t.Errorf("single board %+v differs from the map's %+v", one, b)
	}
}

func TestWhereIs(t *testing.T) {
	e := newEnv(t)
	id := e.createJob("alice", service.Shape{Kind: service.ShapeBoard, X: 1, Y: 0, Z: 1}, "spin")
	cases := []struct {
		query           string
		logical         xyz
		physical        [3]int
		chip, boardChip [2]int
		jobID           int64
		jobChip         *[2]int
	}{
		{"machine=spin&x=1&y=0&z=0", xyz{1, 0, 0}, [3]int{0, 0, 3}, [2]int{12, 0}, [2]int{0, 0}, 0, nil},
		{"machine=spin&cabinet=0&frame=0&board=4", xyz{1, 0, 1}, [3]int{0, 0, 4}, [2]int{20, 4}, [2]int{0, 0}, id, &[2]int{0, 0}},
		{"machine=spin&chip_x=13&chip_y=1", xyz{1, 0, 0}, [3]int{0, 0, 3}, [2]int{13, 1}, [2]int{1, 1}, 0, nil},
		{"job_id=" + itoa(id) + "&chip_x=1&chip_y=2", xyz{1, 0, 1}, [3]int{0, 0, 4}, [2]int{21, 6}, [2]int{1, 2}, id, &[2]int{1, 2}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var w whereIsJSON
			e.getJSON("/api/v1/where_is?"+c.query, &w)
			if w.Machine != "spin" || w.Logical != c.logical || w.Physical != c.physical || w.Chip != c.chip || w.BoardChip != c.boardChip {
				t.Errorf("where_is = %+v, want board %v slot %v chip %v board chip %v", w, c.logical, c.physical, c.chip, c.boardChip)
			}
			if (w.JobID == nil) != (c.jobID == 0) || (w.JobID != nil && *w.JobID != c.jobID) {
				t.Errorf("job id %v, want %d", w.JobID, c.jobID)
			}
			if (w.JobChip == nil) != (c.jobChip == nil) || (w.JobChip != nil && *w.JobChip != *c.jobChip) {
				t.Errorf("job chip %v, want %v", w.JobChip, c.jobChip)
			}
		})
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// TestMachineShowsAnUnreachableBMP: a BMP that does not answer shows on the
// machine (with why and since when), its free boards show as
// bmp_unreachable (not out of service) in the map, the counts and the
// board gauges, and all of it clears when it answers again.
func TestMachineShowsAnUnreachableBMP(t *testing.T) {
	e := newEnv(t)
	var m machineDetailJSON
	e.getJSON("/api/v1/machines/spin", &m)
	bmp := m.BMPs[0]
	if bmp.Unreachable || bmp.UnreachableSince != nil || bmp.LastError != nil {
		t.Fatalf("BMP at start: %+v", bmp)
	}
	if err := e.svc.SetBMPReachable(e.ctx, bmp.ID, false, "no reply to sver"); err != nil {
		t.Fatal(err)
	}
	e.getJSON("/api/v1/machines/spin", &m)
	bmp = m.BMPs[0]
	if !bmp.Unreachable || bmp.UnreachableSince == nil || bmp.LastError == nil || *bmp.LastError != "no reply to sver" {
		t.Errorf("unreachable BMP shown as %+v", bmp)
	}
	for _, b := range m.Boards {
		want := service.BoardUnreachable
		if b.Dead {
			want = service.BoardDead
		}
		if b.State != want || b.BMPUnreachable == b.Dead || b.OutOfService != nil {
			t.Errorf("board %v: state %q, bmp_unreachable %v, out_of_service %v; want %q, not out of service",
				b.Logical, b.State, b.BMPUnreachable, b.OutOfService, want)
		}
	}
	if m.BoardCounts[service.BoardUnreachable] != 5 {
		t.Errorf("board counts %v, want 5 %s", m.BoardCounts, service.BoardUnreachable)
	}
	if got := value(e.scrape(), "spalloc_boards", "machine", "spin", "state", service.BoardUnreachable); got != 5 {
		t.Errorf("spalloc_boards{state=%q} = %v, want 5", service.BoardUnreachable, got)
	}

	if err := e.svc.SetBMPReachable(e.ctx, bmp.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	m = machineDetailJSON{} // decoding into the old value would merge the counts
	e.getJSON("/api/v1/machines/spin", &m)
	if bmp = m.BMPs[0]; bmp.Unreachable || bmp.UnreachableSince != nil || bmp.LastError == nil {
		t.Errorf("BMP that answers again shown as %+v, want reachable with its last error", bmp)
	}
	if m.BoardCounts[service.BoardFree] != 5 || m.BoardCounts[service.BoardUnreachable] != 0 {
		t.Errorf("board counts %v after the BMP answered, want 5 free", m.BoardCounts)
	}
}

// TestSingleBoardMachineHasOneBoard: a single-board machine ("solo") stores
// its two empty slots as dead boards because the v1 protocol lists them so,
// but to an operator it has one board and no dead ones: the machine list,
// its board map, a board's page and the board gauges agree.
func TestSingleBoardMachineHasOneBoard(t *testing.T) {
	e := newEnv(t)
	wantCounts := func(where string, counts map[string]int) {
		t.Helper()
		for state, n := range counts {
			if want := map[string]int{service.BoardFree: 1}[state]; n != want {
				t.Errorf("%s: %d boards %s, want %d (counts %v)", where, n, state, want, counts)
			}
		}
	}

	var ms []machineJSON
	e.getJSON("/api/v1/machines", &ms)
	solo := ms[1]
	if solo.Name != "solo" || len(solo.DeadBoards) != 0 {
		t.Errorf("machine list: %s with dead boards %v, want solo with none", solo.Name, solo.DeadBoards)
	}
	wantCounts("machine list", solo.BoardCounts)

	var m machineDetailJSON
	e.getJSON("/api/v1/machines/solo", &m)
	if len(m.Boards) != 1 || m.Boards[0].Logical != (xyz{0, 0, 0}) || len(m.DeadBoards) != 0 {
		t.Errorf("board map: boards %+v, dead boards %v; want board (0,0,0) alone and no dead boards", m.Boards, m.DeadBoards)
	}
	wantCounts("board map", m.BoardCounts)
	for _, z := range []string{"1", "2"} {
		if r := e.get("/api/v1/machines/solo/boards/0/0/" + z); r.code != http.StatusNotFound {
			t.Errorf("GET board (0,0,%s) of solo: status %d, want 404: %s", z, r.code, r.body)
		}
	}

	fams := e.scrape()
	for _, state := range []string{service.BoardFree, service.BoardDead} {
		want := map[string]float64{service.BoardFree: 1}[state]
		if got := value(fams, "spalloc_boards", "machine", "solo", "state", state); got != want {
			t.Errorf("spalloc_boards{machine=solo, state=%s} = %v, want %v", state, got, want)
		}
	}

	// The v1 protocol lists the empty slots as dead boards, as the original did.
	v1, err := e.svc.ListMachines(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []geometry.Board{{X: 0, Y: 0, Z: 1}, {X: 0, Y: 0, Z: 2}}
	if !slices.Equal(v1[1].DeadBoards, want) {
		t.Errorf("list_machines: solo's dead boards %v, want %v", v1[1].DeadBoards, want)
	}
}
