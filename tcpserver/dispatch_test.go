package tcpserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testEnv(f *fakeBackend) *env {
	return &env{svc: f, rec: service.NopRecorder{}, host: "127.0.0.1", watches: &watches{}, log: quietLogger(), remote: "127.0.0.1:5"}
}

func dispatch(f *fakeBackend, line string) string {
	return string(respond(context.Background(), testEnv(f), []byte(line), nil))
}

// TestRespondExactBytes pins the reply lines clients see (PROTO-04 to
// PROTO-10), byte for byte: field order, floats as 60.0, null forms.
func TestRespondExactBytes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeBackend)
		line  string
		want  string
		calls []string
	}{
		{"version", nil, `{"command":"version","args":[],"kwargs":{}}`, `{"return":"1.0.0"}`, nil},
		{"create_job", nil, `{"command":"create_job","kwargs":{"owner":"me"}}`, `{"return":1}`,
			[]string{"CreateJob me"}},
		{"get_job_state ready", func(f *fakeBackend) {
			f.state = service.JobStatus{State: service.StateReady, Power: ptr(true), Keepalive: ptr(time.Minute),
				StartTime: ptr(time.UnixMicro(1795725029061818)), KeepaliveHost: ptr("127.0.0.1")}
		}, `{"command":"get_job_state","args":[1]}`,
			`{"return":{"state":3,"power":true,"keepalive":60.0,"reason":null,"start_time":1795725029.061818,"keepalivehost":"127.0.0.1"}}`,
			[]string{"JobState 1 127.0.0.1"}},
		{"get_job_state destroyed", func(f *fakeBackend) {
			f.state = service.JobStatus{State: service.StateDestroyed, Reason: ptr("Cancelled: No suitable machines available.")}
		}, `{"command":"get_job_state","args":[3]}`,
			`{"return":{"state":4,"power":null,"keepalive":null,"reason":"Cancelled: No suitable machines available.","start_time":null,"keepalivehost":null}}`,
			nil},
		{"get_job_state unknown", nil, `{"command":"get_job_state","args":[999]}`,
			`{"return":{"state":0,"power":null,"keepalive":null,"reason":null,"start_time":null,"keepalivehost":null}}`, nil},
		{"get_job_machine_info", func(f *fakeBackend) {
			f.info = &service.JobMachineInfo{Width: 16, Height: 16, MachineName: "spinn-4x2",
				Connections: []service.Connection{cn(0, 0, "10.2.0.1"), cn(8, 4, "10.2.0.9"), cn(4, 8, "10.2.0.17")},
				Boards:      []geometry.Board{bd(0, 0, 0), bd(0, 0, 1), bd(0, 0, 2)}}
		}, `{"command":"get_job_machine_info","args":[2]}`,
			`{"return":{"width":16,"height":16,"connections":[[[0,0],"10.2.0.1"],[[8,4],"10.2.0.9"],[[4,8],"10.2.0.17"]],"machine_name":"spinn-4x2","boards":[[0,0,0],[0,0,1],[0,0,2]]}}`,
			[]string{"JobMachineInfo 2 127.0.0.1"}},
		{"get_job_machine_info before allocation", nil, `{"command":"get_job_machine_info","args":[2]}`,
			`{"return":{"width":null,"height":null,"connections":null,"machine_name":null,"boards":null}}`, nil},
		{"job_keepalive", nil, `{"command":"job_keepalive","args":[1]}`, `{"return":null}`, []string{"Keepalive 1 127.0.0.1"}},
		{"power_on_job_boards", nil, `{"command":"power_on_job_boards","args":[1]}`, `{"return":null}`, []string{"PowerOnJob 1 127.0.0.1"}},
		{"power_off_job_boards", nil, `{"command":"power_off_job_boards","args":[1]}`, `{"return":null}`, []string{"PowerOffJob 1 127.0.0.1"}},
		{"destroy_job without reason", nil, `{"command":"destroy_job","args":[1,null]}`, `{"return":null}`,
			[]string{"DestroyJob 1 <nil> 127.0.0.1"}},
		{"destroy_job with reason", nil, `{"command":"destroy_job","args":[1],"kwargs":{"reason":"done"}}`, `{"return":null}`,
			[]string{`DestroyJob 1 "done" 127.0.0.1`}},
		{"notify_job", nil, `{"command":"notify_job","args":[null]}`, `{"return":null}`, []string{}},
		{"no_notify_machine", nil, `{"command":"no_notify_machine","args":["x"]}`, `{"return":null}`, []string{}},
		{"list_jobs empty", nil, `{"command":"list_jobs"}`, `{"return":[]}`, nil},
		{"list_jobs", func(f *fakeBackend) {
			f.jobs = []service.JobSummary{
				{ID: 1, Owner: "me", StartTime: time.UnixMicro(1700000000500000), Keepalive: ptr(time.Minute), State: service.StateReady,
					Power: ptr(true), Args: json.RawMessage(`[]`), Kwargs: json.RawMessage(`{"tags":["default"]}`),
					MachineName: ptr("m"), Boards: []geometry.Board{bd(0, 1, 0)}, KeepaliveHost: "127.0.0.1"},
				{ID: 2, Owner: "me", StartTime: time.Unix(1700000001, 0), Keepalive: ptr(time.Minute), State: service.StateQueued,
					Args: json.RawMessage(`[1,2]`), Kwargs: json.RawMessage(`{"require_torus":true}`)},
			}
		}, `{"command":"list_jobs"}`,
			`{"return":[` +
				`{"job_id":1,"owner":"me","start_time":1700000000.5,"keepalive":60.0,"state":3,"power":true,"args":[],"kwargs":{"tags":["default"]},"allocated_machine_name":"m","boards":[[0,1,0]],"keepalivehost":"127.0.0.1"},` +
				`{"job_id":2,"owner":"me","start_time":1700000001.0,"keepalive":60.0,"state":1,"power":null,"args":[1,2],"kwargs":{"require_torus":true},"allocated_machine_name":null,"boards":null,"keepalivehost":null}]}`,
			[]string{"ListJobs"}},
		{"list_machines", func(f *fakeBackend) {
			f.machines = []service.MachineSummary{
				{Name: "m0", Tags: []string{"default"}, Width: 1, Height: 2},
				{Name: "m1", Tags: []string{"default"}, Width: 3, Height: 4,
					DeadBoards: []geometry.Board{bd(0, 0, 1)},
					DeadLinks:  []service.DeadLink{{Board: geometry.Board{X: 1, Y: 1, Z: 1}, Link: geometry.Link(2)}}},
			}
		}, `{"command":"list_machines"}`,
			`{"return":[{"name":"m0","tags":["default"],"width":1,"height":2,"dead_boards":[],"dead_links":[]},` +
				`{"name":"m1","tags":["default"],"width":3,"height":4,"dead_boards":[[0,0,1]],"dead_links":[[1,1,1,2]]}]}`,
			nil},
		{"get_board_position", func(f *fakeBackend) { f.pos = &service.Physical{Cabinet: 0, Frame: 0, Board: 20} },
			`{"command":"get_board_position","args":["m",0,0,2]}`, `{"return":[0,0,20]}`, []string{"BoardPosition m (0, 0, 2)"}},
		{"get_board_position none", nil, `{"command":"get_board_position","args":["bad",0,0,0]}`, `{"return":null}`, nil},
		{"get_board_at_position", func(f *fakeBackend) { f.board = &geometry.Board{X: 0, Y: 0, Z: 2} },
			`{"command":"get_board_at_position","args":["m",0,0,20]}`, `{"return":[0,0,2]}`, nil},
		{"get_board_at_position none", nil, `{"command":"get_board_at_position","args":["m",0,0,21]}`, `{"return":null}`, nil},
		{"where_is", func(f *fakeBackend) {
			f.where = &service.WhereIsResult{Machine: "m", Logical: geometry.Board{X: 0, Y: 1, Z: 1},
				Physical: service.Physical{Cabinet: 0, Frame: 10, Board: 10}, Chip: [2]int{8, 16}}
		}, `{"command":"where_is","kwargs":{"machine":"m","x":0,"y":1,"z":1}}`,
			`{"return":{"machine":"m","logical":[0,1,1],"physical":[0,10,10],"chip":[8,16],"board_chip":[0,0],"job_id":null,"job_chip":null}}`,
			[]string{"WhereIs 127.0.0.1"}},
		{"where_is job", func(f *fakeBackend) {
			f.where = &service.WhereIsResult{Machine: "spinn-4x2", Logical: geometry.Board{X: 0, Y: 0, Z: 1},
				Physical: service.Physical{Cabinet: 0, Frame: 0, Board: 1}, Chip: [2]int{13, 5},
				BoardChip: [2]int{5, 1}, JobID: ptr[int64](1), JobChip: &[2]int{13, 5}}
		}, `{"command":"where_is","kwargs":{"job_id":1,"chip_x":13,"chip_y":5}}`,
			`{"return":{"machine":"spinn-4x2","logical":[0,0,1],"physical":[0,0,1],"chip":[13,5],"board_chip":[5,1],"job_id":1,"job_chip":[13,5]}}`,
			nil},
		{"where_is nothing", nil, `{"command":"where_is","kwargs":{"job_id":99,"chip_x":0,"chip_y":0}}`, `{"return":null}`, nil},
		{"report_problem", nil, `{"command":"report_problem","args":["10.2.0.1"],"kwargs":{"description":"smoke"}}`,
			`{"return":null}`, []string{`ReportProblem 10.2.0.1 "smoke" 127.0.0.1`}},

		{"exception", nil, `{"command":"get_job_state"}`,
			`{"exception":"get_job_state: missing required argument 'job_id'"}`, []string{}},
		{"service error becomes its message", func(f *fakeBackend) {
			f.err = service.Invalid("Only one of machine and tags may be specified for a job.")
		}, `{"command":"create_job","kwargs":{"owner":"me","machine":"m","tags":["a"]}}`,
			`{"exception":"Only one of machine and tags may be specified for a job."}`, nil},
		{"internal error hides details", func(f *fakeBackend) {
			f.err = service.Internal("database trouble", io.ErrUnexpectedEOF)
		}, `{"command":"list_jobs"}`, `{"exception":"database trouble"}`, nil},
		{"foreign error", func(f *fakeBackend) { f.err = io.ErrUnexpectedEOF },
			`{"command":"list_machines"}`, `{"exception":"internal server error"}`, nil},
		{"exception text is escaped", nil, "{\"command\":\"no\\\"such\\u0001\"}",
			`{"exception":"unknown command \"no\\\"such\\u0001\""}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBackend{}
			if tt.setup != nil {
				tt.setup(f)
			}
			got := dispatch(f, tt.line)
			if got != tt.want+"\n" {
				t.Fatalf("reply\n  %s\nwant\n  %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("reply is not valid JSON: %s", got)
			}
			if tt.calls != nil && strings.Join(f.Calls(), "|") != strings.Join(tt.calls, "|") {
				t.Fatalf("service calls %q, want %q", f.Calls(), tt.calls)
			}
		})
	}
}

// TestCreateJobPassesHost checks the request the service receives: the
// client's host and the request as sent.
func TestCreateJobPassesHost(t *testing.T) {
	f := &fakeBackend{}
	dispatch(f, `{"command":"create_job","args":[2,1],"kwargs":{"owner":"me","keepalive":60.0,"tags":null}}`)
	if len(f.created) != 1 {
		t.Fatalf("created %d jobs", len(f.created))
	}
	r := f.created[0]
	if r.Host != "127.0.0.1" || string(r.Args) != "[2,1]" || string(r.Kwargs) != `{"tags":null}` {
		t.Fatalf("request %+v", r)
	}
}

func TestAppendFloatLikePython(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{60, "60.0"}, {0.5, "0.5"}, {0, "0.0"}, {-2, "-2.0"}, {0.333, "0.333"},
		{1795725029.061818, "1795725029.061818"}, {1e15, "1000000000000000.0"},
		{1e16, "1e+16"}, {1.5e16, "1.5e+16"}, {0.0001, "0.0001"}, {1e-5, "1e-05"},
		{123456789.25, "123456789.25"},
	}
	for _, tt := range tests {
		if got := string(appendFloat(nil, tt.f)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func TestAppendStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "tab\tnl\nnul\x00", "Jörg 😀", "\u2028\u2029", "bad\xffutf8"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Errorf("%q round-tripped as %q", s, got)
		}
	}
}

func bd(x, y, z int) geometry.Board { return geometry.Board{X: x, Y: y, Z: z} }

func cn(x, y int, host string) service.Connection {
	return service.Connection{ChipX: x, ChipY: y, Hostname: host}
}
