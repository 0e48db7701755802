package tcpserver_test

// Integration tests over real TCP against a real service and SQLite file:
// the PROTO cases of docs/test-cases.md and the job cases the v1 protocol
// exposes (JOB-03, JOB-04, JOB-05).

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service/geometry"
	"github.com/spalloc/spallocd/tcpserver/client"
)

var bg = context.Background()

func ptr[T any](v T) *T { return &v }

// grid10m is grid10(1,2) named "m".
var grid10m = testutil.GridTOML(testutil.Grid{Name: "m", Width: 1, Height: 2, Scale: 10})

// dual is the two-machine fixture: m0 = grid10(1,2); m1 = 3x4 with dead
// board (0,0,1) and dead link (1,1,1,N), BMPs 12.0.c.f, boards 13.x.y.z.
var dual = testutil.GridTOML(testutil.Grid{Name: "m0", Width: 1, Height: 2, Scale: 10}) + "\n" +
	testutil.GridTOML(testutil.Grid{Name: "m1", Width: 3, Height: 4, Scale: 10, BMPPrefix: "12.0", BoardPrefix: "13",
		DeadBoards: []geometry.Board{{X: 0, Y: 0, Z: 1}},
		DeadLinks:  []testutil.DeadLinkSpec{{Board: geometry.Board{X: 1, Y: 1, Z: 1}, Link: geometry.Link(2)}}})

// raw sends one line byte for byte and returns the reply line.
func raw(t *testing.T, c *client.Client, line string) string {
	t.Helper()
	reply, err := c.RoundTrip(bg, []byte(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return string(reply)
}

// matchReply compares a reply line with a pattern in which "<float>" stands
// for any JSON float and "<any>" for any text; the rest is byte-exact.
func matchReply(t *testing.T, got, pattern string) {
	t.Helper()
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, regexp.QuoteMeta("<float>"), `-?[0-9]+\.[0-9]+(e[+-][0-9]+)?`)
	re = strings.ReplaceAll(re, regexp.QuoteMeta("<any>"), `.*`)
	if !regexp.MustCompile("^" + re + "$").MatchString(got) {
		t.Fatalf("reply\n  %s\ndoes not match\n  %s", got, pattern)
	}
}

func createJob(t *testing.T, c *client.Client, args []any, kwargs map[string]any) int64 {
	t.Helper()
	if _, ok := kwargs["owner"]; !ok {
		kwargs["owner"] = "me"
	}
	id, err := c.CreateJob(bg, args, kwargs)
	if err != nil {
		t.Fatalf("create_job(%v, %v): %v", args, kwargs, err)
	}
	return id
}

func jobState(t *testing.T, c *client.Client, id int64) client.JobState {
	t.Helper()
	st, err := c.GetJobState(bg, id)
	if err != nil {
		t.Fatalf("get_job_state(%d): %v", id, err)
	}
	return st
}

// PROTO-02, PROTO-03.
func TestVersion(t *testing.T) {
	h := newHarness(t, "", harnessOptions{})
	c := h.dial()
	for _, line := range []string{`{"command":"version","args":[],"kwargs":{}}`, `{"command":"version"}`} {
		got := raw(t, c, line)
		var reply struct{ Return string }
		if err := json.Unmarshal([]byte(got), &reply); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(reply.Return, ".")
		if len(parts) != 3 {
			t.Fatalf("version %q is not MAJOR.MINOR.PATCH", reply.Return)
		}
		var v [3]int
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				t.Fatalf("version %q: part %q is not a number", reply.Return, p)
			}
			v[i] = n
		}
		if slices.Compare(v[:], []int{0, 1, 0}) < 0 || slices.Compare(v[:], []int{7, 0, 0}) >= 0 {
			t.Fatalf("version %q outside [0.1.0, 7.0.0)", reply.Return)
		}
	}
}

// proto04 sets up PROTO-04: grid10(1,2) "m"; job 1 = create_job(tags=
// ["default"]), job 2 = create_job(1,2, require_torus=true) (queued), job
// 3 = create_job(2,2) (destroyed at once); then job_keepalive for each.
func proto04(t *testing.T) (*harness, *client.Client) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	if got := raw(t, c, `{"command":"create_job","args":[],"kwargs":{"tags":["default"],"owner":"me"}}`); got != `{"return":1}` {
		t.Fatalf("job 1: %s", got)
	}
	if got := raw(t, c, `{"command":"create_job","args":[1,2],"kwargs":{"owner":"me","require_torus":true}}`); got != `{"return":2}` {
		t.Fatalf("job 2: %s", got)
	}
	if got := raw(t, c, `{"command":"create_job","args":[2,2],"kwargs":{"owner":"me"}}`); got != `{"return":3}` {
		t.Fatalf("job 3: %s", got)
	}
	h.completeOps()
	for id := 1; id <= 3; id++ {
		if got := raw(t, c, fmt.Sprintf(`{"command":"job_keepalive","args":[%d]}`, id)); got != `{"return":null}` {
			t.Fatalf("keepalive %d: %s", id, got)
		}
	}
	return h, c
}

// PROTO-04, PROTO-05, PROTO-06: the exact shapes.
func TestJobShapes(t *testing.T) {
	_, c := proto04(t)
	matchReply(t, raw(t, c, `{"command":"get_job_state","args":[1]}`),
		`{"return":{"state":3,"power":true,"keepalive":60.0,"reason":null,"start_time":<float>,"keepalivehost":"127.0.0.1"}}`)
	matchReply(t, raw(t, c, `{"command":"get_job_state","args":[2]}`),
		`{"return":{"state":1,"power":null,"keepalive":60.0,"reason":null,"start_time":<float>,"keepalivehost":"127.0.0.1"}}`)
	matchReply(t, raw(t, c, `{"command":"get_job_state","args":[3]}`),
		`{"return":{"state":4,"power":null,"keepalive":null,"reason":"Cancelled: No suitable machines available.","start_time":null,"keepalivehost":null}}`)
	matchReply(t, raw(t, c, `{"command":"get_job_state","args":[999]}`),
		`{"return":{"state":0,"power":null,"keepalive":null,"reason":null,"start_time":null,"keepalivehost":null}}`)

	// PROTO-05: job 1 is on one board (0, y, 0).
	mi, err := c.GetJobMachineInfo(bg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(mi.Boards) != 1 {
		t.Fatalf("job 1 boards %v", mi.Boards)
	}
	y := mi.Boards[0][1]
	matchReply(t, raw(t, c, `{"command":"get_job_machine_info","args":[1]}`),
		fmt.Sprintf(`{"return":{"width":8,"height":8,"connections":[[[0,0],"11.0.%d.0"]],"machine_name":"m","boards":[[0,%d,0]]}}`, y, y))
	for _, id := range []int{2, 3} {
		matchReply(t, raw(t, c, fmt.Sprintf(`{"command":"get_job_machine_info","args":[%d]}`, id)),
			`{"return":{"width":null,"height":null,"connections":null,"machine_name":null,"boards":null}}`)
	}

	// PROTO-06.
	matchReply(t, raw(t, c, `{"command":"list_jobs","args":[],"kwargs":{}}`), fmt.Sprintf(`{"return":[`+
		`{"job_id":1,"owner":"me","start_time":<float>,"keepalive":60.0,"state":3,"power":true,"args":[],"kwargs":{"tags":["default"]},"allocated_machine_name":"m","boards":[[0,%d,0]],"keepalivehost":"127.0.0.1"},`+
		`{"job_id":2,"owner":"me","start_time":<float>,"keepalive":60.0,"state":1,"power":null,"args":[1,2],"kwargs":{"require_torus":true},"allocated_machine_name":null,"boards":null,"keepalivehost":"127.0.0.1"}]}`, y))
}

// PROTO-06: keyword nulls are listed as sent; owner and keepalive never.
func TestListJobsKeepsNulls(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	raw(t, c, `{"command":"create_job","args":[1],"kwargs":{"owner":"me","keepalive":null,"machine":null,"tags":null,"min_ratio":null,"max_dead_boards":null,"max_dead_links":null,"require_torus":null}}`)
	matchReply(t, raw(t, c, `{"command":"list_jobs"}`),
		`{"return":[{"job_id":1,"owner":"me","start_time":<float>,"keepalive":null,"state":2,"power":true,"args":[1],`+
			`"kwargs":{"machine":null,"tags":null,"min_ratio":null,"max_dead_boards":null,"max_dead_links":null,"require_torus":null},`+
			`"allocated_machine_name":"m","boards":[[<any>]],"keepalivehost":"127.0.0.1"}]}`)
}

// PROTO-07.
func TestListMachines(t *testing.T) {
	h := newHarness(t, dual, harnessOptions{})
	c := h.dial()
	if got, want := raw(t, c, `{"command":"list_machines","args":[],"kwargs":{}}`),
		`{"return":[{"name":"m0","tags":["default"],"width":1,"height":2,"dead_boards":[],"dead_links":[]},`+
			`{"name":"m1","tags":["default"],"width":3,"height":4,"dead_boards":[[0,0,1]],"dead_links":[[1,1,1,2]]}]}`; got != want {
		t.Fatalf("got\n  %s\nwant\n  %s", got, want)
	}
}

// PROTO-08.
func TestBoardPositions(t *testing.T) {
	m1 := `[[machine]]
name = "m1"
width = 1
height = 2
dead_boards = [[0, 0, 1]]
bmps = [{ cf = [0, 0], ip = "10.9.0.0" }, { cf = [0, 1], ip = "10.9.0.1" }]
boards = [
  { xyz = [0, 0, 0], cfb = [0, 0, 0], ip = "12.0.0.0" },
  { xyz = [0, 0, 2], cfb = [0, 0, 2], ip = "12.0.0.2" },
  { xyz = [0, 1, 0], cfb = [0, 1, 0], ip = "12.0.1.0" },
  { xyz = [0, 1, 1], cfb = [0, 1, 1], ip = "12.0.1.1" },
  { xyz = [0, 1, 2], cfb = [0, 1, 2], ip = "12.0.1.2" },
]
`
	h := newHarness(t, grid10m+"\n"+m1, harnessOptions{})
	c := h.dial()
	tests := []struct{ line, want string }{
		{`{"command":"get_board_position","args":["m",0,0,2]}`, `{"return":[0,0,20]}`},
		{`{"command":"get_board_position","args":["bad",0,0,0]}`, `{"return":null}`},
		{`{"command":"get_board_position","args":["m",1,0,0]}`, `{"return":null}`},
		{`{"command":"get_board_position","kwargs":{"machine_name":"m","x":0,"y":1,"z":1}}`, `{"return":[0,10,10]}`},
		{`{"command":"get_board_at_position","args":["m",0,0,20]}`, `{"return":[0,0,2]}`},
		{`{"command":"get_board_at_position","args":["m",0,0,0]}`, `{"return":[0,0,0]}`},
		{`{"command":"get_board_at_position","args":["m",0,0,21]}`, `{"return":null}`},
		{`{"command":"get_board_at_position","args":["bad",0,0,0]}`, `{"return":null}`},
		{`{"command":"get_board_at_position","kwargs":{"machine_name":"m","cabinet":0,"frame":10,"board":10}}`, `{"return":[0,1,1]}`},
		{`{"command":"get_board_position","args":["m1",0,1,2]}`, `{"return":[0,1,2]}`},
		{`{"command":"get_board_at_position","args":["m1",0,1,2]}`, `{"return":[0,1,2]}`},
	}
	for _, tt := range tests {
		if got := raw(t, c, tt.line); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.line, got, tt.want)
		}
	}
}

// PROTO-09, and the other where_is forms over the wire.
func TestWhereIs(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	tests := []struct{ kw, want string }{
		{`{"machine":"m","x":0,"y":1,"z":1}`,
			`{"return":{"machine":"m","logical":[0,1,1],"physical":[0,10,10],"chip":[8,16],"board_chip":[0,0],"job_id":null,"job_chip":null}}`},
		{`{"machine":"m","cabinet":0,"frame":10,"board":10}`,
			`{"return":{"machine":"m","logical":[0,1,1],"physical":[0,10,10],"chip":[8,16],"board_chip":[0,0],"job_id":null,"job_chip":null}}`},
		{`{"machine":"m","chip_x":9,"chip_y":17}`,
			`{"return":{"machine":"m","logical":[0,1,1],"physical":[0,10,10],"chip":[9,17],"board_chip":[1,1],"job_id":null,"job_chip":null}}`},
		{`{"machine":"bad","chip_x":0,"chip_y":0}`, `{"return":null}`},
		{`{"machine":"bad","x":0,"y":0,"z":0}`, `{"return":null}`},
		{`{"machine":"bad","cabinet":0,"frame":0,"board":0}`, `{"return":null}`},
		{`{"job_id":99,"chip_x":0,"chip_y":0}`, `{"return":null}`},
		{`{}`, `{"exception":"Invalid arguments: "}`},
		{`{"machine":"m","x":0,"y":0}`, `{"exception":"Invalid arguments: machine, x, y"}`},
		{`{"machine":"m","chip_x":0,"chip_y":0,"z":0}`, `{"exception":"Invalid arguments: chip_x, chip_y, machine, z"}`},
		{`{"job_id":1,"x":0,"y":0,"z":0}`, `{"exception":"Invalid arguments: job_id, x, y, z"}`},
	}
	for _, tt := range tests {
		line := `{"command":"where_is","args":[],"kwargs":` + tt.kw + `}`
		if got := raw(t, c, line); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.kw, got, tt.want)
		}
	}
}

// PROTO-10: commands that return null, also for unknown ids and names.
func TestNullCommands(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	id := createJob(t, c, nil, map[string]any{})
	for _, line := range []string{
		fmt.Sprintf(`{"command":"job_keepalive","args":[%d]}`, id),
		fmt.Sprintf(`{"command":"power_off_job_boards","args":[%d]}`, id),
		fmt.Sprintf(`{"command":"power_on_job_boards","args":[%d]}`, id),
		`{"command":"notify_job","args":[null]}`, `{"command":"notify_job","args":[77]}`,
		`{"command":"no_notify_job","args":[77]}`, `{"command":"no_notify_job","args":[null]}`,
		`{"command":"notify_machine","args":[null]}`, `{"command":"notify_machine","args":["nosuch"]}`,
		`{"command":"no_notify_machine","args":["nosuch"]}`, `{"command":"no_notify_machine","args":[null]}`,
		fmt.Sprintf(`{"command":"destroy_job","args":[%d,"with a reason"]}`, id),
		fmt.Sprintf(`{"command":"destroy_job","args":[%d]}`, id),
		`{"command":"job_keepalive","args":[999]}`, `{"command":"power_on_job_boards","args":[999]}`,
		`{"command":"power_off_job_boards","args":[999]}`, `{"command":"destroy_job","args":[999]}`,
		`{"command":"destroy_job","args":[999],"kwargs":{"reason":"x"}}`,
		`{"command":"report_problem","args":["11.0.0.0"],"kwargs":{"description":"smells of smoke"}}`,
	} {
		if got := raw(t, c, line); got != `{"return":null}` {
			t.Errorf("%s: got %s", line, got)
		}
	}
	// Destroying twice keeps the first reason.
	if st := jobState(t, c, id); st.State != client.StateDestroyed || st.Reason == nil || *st.Reason != "with a reason" {
		t.Fatalf("after two destroys: %+v", st)
	}
}

// PROTO-11: invalid requests get an exception, change nothing, and the
// connection goes on.
func TestInvalidRequestsChangeNothing(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	tests := []struct{ line, want string }{
		{`{"command":"create_job","args":[1],"kwargs":{"keepalive":60.0}}`, "owner must be specified for all jobs"},
		{`{"command":"create_job","args":[1],"kwargs":{"owner":null}}`, "owner must be specified for all jobs"},
		{`{"command":"create_job","kwargs":{"owner":"me","machine":"m","tags":["default"]}}`,
			"Only one of machine and tags may be specified for a job."},
		{`{"command":"create_job","kwargs":{"owner":"me","require_torus":true}}`, "require_torus must be False when allocating boards."},
		{`{"command":"create_job","args":[0,0,1],"kwargs":{"owner":"me","machine":"m","require_torus":true}}`,
			"require_torus must be False when allocating boards."},
		{`{"command":"create_job","args":[3],"kwargs":{"owner":"me","min_ratio":-1}}`, "Aspect ratio cannot be negative."},
		{`{"command":"create_job","kwargs":{"owner":"me","colour":"red"}}`, "create_job got unexpected keyword argument 'colour'"},
		{`{"command":"create_job","kwargs":{"owner":"` + strings.Repeat("x", 300) + `"}}`, "owner must be at most 256 bytes long, not 300"},
		{`{"command":"where_is","kwargs":{"machine":"m","x":0,"y":0,"z":0,"w":1}}`, "Invalid arguments: machine, w, x, y, z"},
		{`{"command":"where_is","kwargs":{"machine":"m","x":0,"y":0}}`, "Invalid arguments: machine, x, y"},
		{`{"command":"get_job_state","args":[],"kwargs":{}}`, "get_job_state: missing required argument 'job_id'"},
	}
	for _, tt := range tests {
		got := raw(t, c, tt.line)
		var reply struct{ Exception *string }
		if err := json.Unmarshal([]byte(got), &reply); err != nil || reply.Exception == nil {
			t.Errorf("%s: got %s, want an exception", tt.line, got)
			continue
		}
		if !strings.Contains(*reply.Exception, tt.want) {
			t.Errorf("%s: exception %q, want %q", tt.line, *reply.Exception, tt.want)
		}
		if got := raw(t, c, `{"command":"version"}`); !strings.HasPrefix(got, `{"return":"`) {
			t.Fatalf("version after %s: %s", tt.line, got)
		}
	}
	if got := raw(t, c, `{"command":"list_jobs"}`); got != `{"return":[]}` {
		t.Fatalf("jobs were created: %s", got)
	}
	// The next job still gets id 1.
	if id := createJob(t, c, nil, map[string]any{}); id != 1 {
		t.Fatalf("next id %d", id)
	}
}

// PROTO-12 against the real service, and PROTO-17.
func TestMalformedLines(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	other := h.dial()
	for _, line := range []string{`{`, `[1,2]`, `{}`, `{"command":123}`, `{"command":"no such command"}`,
		`{"command":"version","args":"hoho"}`, `{"command":"version","kwargs":"hoho"}`} {
		got := raw(t, c, line)
		var reply map[string]string
		if err := json.Unmarshal([]byte(got), &reply); err != nil || len(reply) != 1 || reply["exception"] == "" {
			t.Errorf("%s: got %s, want one exception", line, got)
		}
		if _, err := other.Version(bg); err != nil {
			t.Fatalf("other client after %s: %v", line, err)
		}
	}
	if _, err := c.Version(bg); err != nil {
		t.Fatal(err)
	}
}

// PROTO-17: a client that disconnects abruptly disturbs no one, and
// shutdown closes every client connection.
func TestDisconnectsAndShutdown(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	a := h.dial()
	b := h.dial()
	must(t, a.NotifyJob(bg, nil))
	id := createJob(t, a, nil, map[string]any{})
	a.Close() // with a subscription and a job
	if _, err := b.Version(bg); err != nil {
		t.Fatal(err)
	}
	if st := jobState(t, b, id); st.State != client.StatePower {
		t.Fatalf("job after its creator left: %+v", st)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	must(t, h.srv.Shutdown(ctx))
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client still connected after shutdown")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// report_problem records a report against the board with that address,
// with the client's address as reporter; an unknown address is an
// exception.
func TestReportProblem(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	id := createJob(t, c, []any{0, 1, 2}, map[string]any{"machine": "m"})
	if got := raw(t, c, `{"command":"report_problem","args":["11.0.1.2"],"kwargs":{"x":1,"y":2,"p":3,"description":"smells of smoke"}}`); got != `{"return":null}` {
		t.Fatalf("report_problem: %s", got)
	}
	reports, err := h.svc.BoardReports(bg, "m", geometry.Board{X: 0, Y: 1, Z: 2})
	if err != nil || len(reports) != 1 {
		t.Fatalf("reports %+v, %v", reports, err)
	}
	r := reports[0]
	if r.Description != "smells of smoke" || r.Reporter != "127.0.0.1" || r.JobID == nil || *r.JobID != id ||
		*r.ChipX != 1 || *r.ChipY != 2 || *r.Core != 3 {
		t.Fatalf("report %+v", r)
	}
	if got := raw(t, c, `{"command":"report_problem","args":["1.2.3.4"]}`); got != `{"exception":"No board has the address \"1.2.3.4\"."}` {
		t.Fatalf("unknown address: %s", got)
	}
}
