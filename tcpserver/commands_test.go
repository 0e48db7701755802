package tcpserver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func ptr[T any](v T) *T { return &v }

// job builds the create_job op expected for owner "me" and the given parts.
func job(shape service.Shape, args, kwargs string, edit func(*service.CreateJobRequest)) op {
	r := service.CreateJobRequest{
		Owner:     "me",
		Keepalive: ptr(60.0),
		Shape:     shape,
		Args:      json.RawMessage(args),
		Kwargs:    json.RawMessage(kwargs),
	}
	if edit != nil {
		edit(&r)
	}
	return createJobOp{req: r}
}

var (
	oneBoard = service.Shape{Kind: service.ShapeOneBoard}
)

func TestParseCreateJob(t *testing.T) {
	tests := []struct {
		name string
		line string
		want op
		err  string
	}{
		{"no positional", `{"command":"create_job","args":[],"kwargs":{"owner":"me"}}`,
			job(oneBoard, `[]`, `{}`, nil), ""},
		{"args and kwargs absent apart from owner", `{"command":"create_job","kwargs":{"owner":"me"}}`,
			job(oneBoard, `[]`, `{}`, nil), ""},
		{"one board", `{"command":"create_job","args":[1],"kwargs":{"owner":"me"}}`,
			job(oneBoard, `[1]`, `{}`, nil), ""},
		{"n boards", `{"command":"create_job","args":[3],"kwargs":{"owner":"me"}}`,
			job(service.Shape{Kind: service.ShapeNBoards, N: 3}, `[3]`, `{}`, nil), ""},
		{"zero boards goes to the service", `{"command":"create_job","args":[0],"kwargs":{"owner":"me"}}`,
			job(service.Shape{Kind: service.ShapeNBoards, N: 0}, `[0]`, `{}`, nil), ""},
		{"w x h", `{"command":"create_job","args":[2, 1],"kwargs":{"owner":"me"}}`,
			job(service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, `[2,1]`, `{}`, nil), ""},
		{"w x h as floats", `{"command":"create_job","args":[2.0,1e0],"kwargs":{"owner":"me"}}`,
			job(service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, `[2.0,1e0]`, `{}`, nil), ""},
		{"specific board", `{"command":"create_job","args":[0,0,2],"kwargs":{"owner":"me","machine":"m3"}}`,
			job(service.Shape{Kind: service.ShapeBoard, X: 0, Y: 0, Z: 2}, `[0,0,2]`, `{"machine":"m3"}`,
				func(r *service.CreateJobRequest) { r.Machine = ptr("m3") }), ""},
		{"trailing null positional is not given, but recorded", `{"command":"create_job","args":[2,1,null],"kwargs":{"owner":"me"}}`,
			job(service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, `[2,1,null]`, `{}`, nil), ""},
		{"keepalive null never times out", `{"command":"create_job","args":[],"kwargs":{"owner":"me","keepalive":null}}`,
			job(oneBoard, `[]`, `{}`, func(r *service.CreateJobRequest) { r.Keepalive = nil }), ""},
		{"keepalive integer", `{"command":"create_job","args":[],"kwargs":{"owner":"me","keepalive":30}}`,
			job(oneBoard, `[]`, `{}`, func(r *service.CreateJobRequest) { r.Keepalive = ptr(30.0) }), ""},
		{"keepalive fraction", `{"command":"create_job","args":[],"kwargs":{"keepalive":0.5,"owner":"me"}}`,
			job(oneBoard, `[]`, `{}`, func(r *service.CreateJobRequest) { r.Keepalive = ptr(0.5) }), ""},
		{"client 7.3 Job: all eight keywords",
			`{"command": "create_job", "args": [2, 1], "kwargs": {"owner": "me", "keepalive": 60.0, "machine": null, "tags": ["default"], "min_ratio": 0.333, "max_dead_boards": 0, "max_dead_links": null, "require_torus": false}}`,
			job(service.Shape{Kind: service.ShapeRect, W: 2, H: 1}, `[2,1]`,
				`{"machine":null,"tags":["default"],"min_ratio":0.333,"max_dead_boards":0,"max_dead_links":null,"require_torus":false}`,
				func(r *service.CreateJobRequest) {
					r.Tags = []string{"default"}
					r.MinRatio = 0.333
					r.MaxDeadBoards = ptr(0)
				}), ""},
		{"client 7.4 explicit nulls (quirk Q4)",
			`{"command": "create_job", "args": [1], "kwargs": {"owner": "me", "keepalive": null, "machine": null, "tags": null, "min_ratio": null, "max_dead_boards": null, "max_dead_links": null, "require_torus": null}}`,
			job(oneBoard, `[1]`,
				`{"machine":null,"tags":null,"min_ratio":null,"max_dead_boards":null,"max_dead_links":null,"require_torus":null}`,
				func(r *service.CreateJobRequest) { r.Keepalive = nil }), ""},
		{"empty tags list is kept", `{"command":"create_job","kwargs":{"owner":"me","tags":[]}}`,
			job(oneBoard, `[]`, `{"tags":[]}`, func(r *service.CreateJobRequest) { r.Tags = []string{} }), ""},
		{"max dead as integral float", `{"command":"create_job","kwargs":{"owner":"me","max_dead_boards":2.0,"max_dead_links":3}}`,
			job(oneBoard, `[]`, `{"max_dead_boards":2.0,"max_dead_links":3}`, func(r *service.CreateJobRequest) {
				r.MaxDeadBoards = ptr(2)
				r.MaxDeadLinks = ptr(3)
			}), ""},
		{"torus", `{"command":"create_job","args":[1,2],"kwargs":{"owner":"me","require_torus":true}}`,
			job(service.Shape{Kind: service.ShapeRect, W: 1, H: 2}, `[1,2]`, `{"require_torus":true}`,
				func(r *service.CreateJobRequest) { r.RequireTorus = true }), ""},
		{"machine and tags both given pass to the service", `{"command":"create_job","kwargs":{"owner":"me","machine":"m","tags":["a"]}}`,
			job(oneBoard, `[]`, `{"machine":"m","tags":["a"]}`, func(r *service.CreateJobRequest) {
				r.Machine = ptr("m")
				r.Tags = []string{"a"}
			}), ""},
		{"negative ratio passes to the service", `{"command":"create_job","kwargs":{"owner":"me","min_ratio":-1}}`,
			job(oneBoard, `[]`, `{"min_ratio":-1}`, func(r *service.CreateJobRequest) { r.MinRatio = -1 }), ""},
		{"unicode owner", `{"command":"create_job","kwargs":{"owner":"J\u00f6rg \ud83d\ude00"}}`,
			job(oneBoard, `[]`, `{}`, func(r *service.CreateJobRequest) { r.Owner = "Jörg 😀" }), ""},

		{"no owner passes to the service", `{"command": "create_job", "args": [1], "kwargs": {"keepalive": 60.0}}`,
			job(oneBoard, `[1]`, `{}`, func(r *service.CreateJobRequest) { r.Owner = "" }), ""},
		{"owner null passes to the service", `{"command":"create_job","kwargs":{"owner":null}}`,
			job(oneBoard, `[]`, `{}`, func(r *service.CreateJobRequest) { r.Owner = "" }), ""},
		{"owner not a string", `{"command":"create_job","kwargs":{"owner":7}}`, nil,
			"create_job: argument 'owner' must be a string, got a number (7)"},
		{"four positionals", `{"command":"create_job","args":[1,2,3,4],"kwargs":{"owner":"me"}}`, nil,
			"create_job takes at most 3 positional arguments"},
		{"fractional n", `{"command":"create_job","args":[1.5],"kwargs":{"owner":"me"}}`, nil,
			"create_job: argument 'n' must be an integer, got a number (1.5)"},
		{"string width", `{"command":"create_job","args":["2",1],"kwargs":{"owner":"me"}}`, nil,
			`create_job: argument 'width' must be an integer, got a string ("2")`},
		{"null in the middle", `{"command":"create_job","args":[null,1],"kwargs":{"owner":"me"}}`, nil,
			"create_job: argument 'width' must be an integer, got null"},
		{"huge z", `{"command":"create_job","args":[0,0,99999999999],"kwargs":{"owner":"me"}}`, nil,
			"create_job: argument 'z' is out of range"},
		{"unknown keywords", `{"command":"create_job","kwargs":{"owner":"me","colour":"red","size":3}}`, nil,
			"create_job got unexpected keyword arguments 'colour', 'size'"},
		{"keepalive string", `{"command":"create_job","kwargs":{"owner":"me","keepalive":"60"}}`, nil,
			`create_job: argument 'keepalive' must be a number, got a string ("60")`},
		{"tags not a list", `{"command":"create_job","kwargs":{"owner":"me","tags":"default"}}`, nil,
			`create_job: argument 'tags' must be a list of strings, got a string ("default")`},
		{"tags holding a number", `{"command":"create_job","kwargs":{"owner":"me","tags":["a",1]}}`, nil,
			`create_job: argument 'tags' must be a list of strings, but holds a number (1)`},
		{"machine not a string", `{"command":"create_job","kwargs":{"owner":"me","machine":["m"]}}`, nil,
			`create_job: argument 'machine' must be a string, got a list`},
		{"ratio not a number", `{"command":"create_job","kwargs":{"owner":"me","min_ratio":true}}`, nil,
			`create_job: argument 'min_ratio' must be a number, got a boolean (true)`},
		{"max dead fractional", `{"command":"create_job","kwargs":{"owner":"me","max_dead_boards":0.5}}`, nil,
			`create_job: argument 'max_dead_boards' must be an integer, got a number (0.5)`},
		{"torus not a bool", `{"command":"create_job","kwargs":{"owner":"me","require_torus":1}}`, nil,
			`create_job: argument 'require_torus' must be true or false, got a number (1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseLine([]byte(tt.line), &request{})
			checkParse(t, got, err, tt.want, tt.err)
		})
	}
}

// checkParse compares a parse result with the expected op or error text.
func checkParse(t *testing.T, got op, err error, want op, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("parsed as %#v, want error containing %q", got, wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %q, want it to contain %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed as\n  %#v\nwant\n  %#v", got, want)
	}
}

func TestParseCommands(t *testing.T) {
	tests := []struct {
		name string
		line string
		want op
		err  string
	}{
		{"version", `{"command":"version","args":[],"kwargs":{}}`, versionOp{}, ""},
		{"version without args and kwargs (PROTO-03)", `{"command":"version"}`, versionOp{}, ""},
		{"version with null args and kwargs", `{"command":"version","args":null,"kwargs":null}`, versionOp{}, ""},
		{"version with extra top-level keys", `{"command":"version","id":7}`, versionOp{}, ""},
		{"version with an argument", `{"command":"version","args":[1]}`, nil, "version takes no arguments (1 given)"},
		{"version with a keyword", `{"command":"version","kwargs":{"x":1}}`, nil, "version got unexpected keyword argument 'x'"},
		{"list_jobs", `{"command":"list_jobs","args":[],"kwargs":{}}`, listJobsOp{}, ""},
		{"list_machines", `{"command":"list_machines"}`, listMachinesOp{}, ""},
		{"list_machines with an argument", `{"command":"list_machines","args":["m"]}`, nil, "list_machines takes no arguments"},

		{"job_keepalive", `{"command":"job_keepalive","args":[1],"kwargs":{}}`, jobOp{jobKeepalive, 1}, ""},
		{"get_job_state", `{"command":"get_job_state","args":[12]}`, jobOp{jobGetState, 12}, ""},
		{"get_job_state by keyword", `{"command":"get_job_state","kwargs":{"job_id":12}}`, jobOp{jobGetState, 12}, ""},
		{"get_job_state float id", `{"command":"get_job_state","args":[12.0]}`, jobOp{jobGetState, 12}, ""},
		{"get_job_state big id", `{"command":"get_job_state","args":[9007199254740993]}`, jobOp{jobGetState, 9007199254740993}, ""},
		{"get_job_machine_info", `{"command":"get_job_machine_info","args":[3]}`, jobOp{jobGetMachineInfo, 3}, ""},
		{"power_on_job_boards", `{"command":"power_on_job_boards","args":[3]}`, jobOp{jobPowerOn, 3}, ""},
		{"power_off_job_boards", `{"command":"power_off_job_boards","args":[3]}`, jobOp{jobPowerOff, 3}, ""},
		{"get_job_state missing id", `{"command": "get_job_state", "args": [], "kwargs": {}}`, nil,
			"get_job_state: missing required argument 'job_id'"},
		{"get_job_state null id", `{"command":"get_job_state","args":[null]}`, nil,
			"get_job_state: missing required argument 'job_id'"},
		{"job_keepalive one too many", `{"command": "job_keepalive", "args": [1, 2], "kwargs": {}}`, nil,
			"job_keepalive takes at most 1 positional argument (job_id) but 2 were given"},
		{"job id twice", `{"command":"get_job_state","args":[1],"kwargs":{"job_id":1}}`, nil,
			"get_job_state: got multiple values for argument 'job_id'"},
		{"job id string", `{"command":"get_job_state","args":["1"]}`, nil,
			`get_job_state: argument 'job_id' must be an integer, got a string ("1")`},
		{"job id bool", `{"command":"get_job_state","args":[true]}`, nil,
			`get_job_state: argument 'job_id' must be an integer, got a boolean (true)`},
		{"job id fraction", `{"command":"job_keepalive","args":[1.5]}`, nil,
			`job_keepalive: argument 'job_id' must be an integer, got a number (1.5)`},
		{"job id too big", `{"command":"job_keepalive","args":[1e30]}`, nil,
			`job_keepalive: argument 'job_id' is out of range (1e30)`},
		{"unknown keyword", `{"command":"get_job_state","args":[1],"kwargs":{"jobid":1}}`, nil,
			`get_job_state got unexpected keyword argument 'jobid'`},

		{"destroy_job", `{"command":"destroy_job","args":[1]}`, destroyOp{id: 1}, ""},
		{"destroy_job 7.3 null reason", `{"command": "destroy_job", "args": [1, null], "kwargs": {}}`, destroyOp{id: 1}, ""},
		{"destroy_job 7.3 empty reason", `{"command":"destroy_job","args":[1,""]}`, destroyOp{id: 1, reason: ptr("")}, ""},
		{"destroy_job 7.3 reason", `{"command":"destroy_job","args":[1,"finished"]}`, destroyOp{id: 1, reason: ptr("finished")}, ""},
		{"destroy_job 7.4 null reason", `{"command":"destroy_job","args":[1],"kwargs":{"reason":null}}`, destroyOp{id: 1}, ""},
		{"destroy_job 7.4 reason", `{"command":"destroy_job","args":[1],"kwargs":{"reason":"done"}}`, destroyOp{id: 1, reason: ptr("done")}, ""},
		{"destroy_job all keywords", `{"command":"destroy_job","kwargs":{"job_id":4,"reason":"x"}}`, destroyOp{id: 4, reason: ptr("x")}, ""},
		{"destroy_job reason not a string", `{"command":"destroy_job","args":[1,5]}`, nil,
			`destroy_job: argument 'reason' must be a string, got a number (5)`},
		{"destroy_job reason twice", `{"command":"destroy_job","args":[1,"a"],"kwargs":{"reason":"b"}}`, nil,
			`destroy_job: got multiple values for argument 'reason'`},

		{"notify_job all (client form)", `{"command":"notify_job","args":[null],"kwargs":{}}`, notifyOp{on: true}, ""},
		{"notify_job all (no args)", `{"command":"notify_job"}`, notifyOp{on: true}, ""},
		{"notify_job one", `{"command":"notify_job","args":[1]}`, notifyOp{on: true, id: ptr[int64](1)}, ""},
		{"notify_job keyword", `{"command":"notify_job","kwargs":{"job_id":2}}`, notifyOp{on: true, id: ptr[int64](2)}, ""},
		{"no_notify_job all", `{"command":"no_notify_job","args":[null]}`, notifyOp{}, ""},
		{"no_notify_job one", `{"command":"no_notify_job","args":[5]}`, notifyOp{id: ptr[int64](5)}, ""},
		{"notify_job bad id", `{"command":"notify_job","args":["all"]}`, nil,
			`notify_job: argument 'job_id' must be an integer, got a string ("all")`},
		{"notify_machine all", `{"command":"notify_machine","args":[null],"kwargs":{}}`, notifyOp{on: true, machine: true}, ""},
		{"notify_machine one", `{"command":"notify_machine","args":["m3"]}`, notifyOp{on: true, machine: true, name: ptr("m3")}, ""},
		{"notify_machine keyword", `{"command":"notify_machine","kwargs":{"machine_name":"m"}}`, notifyOp{on: true, machine: true, name: ptr("m")}, ""},
		{"no_notify_machine one", `{"command":"no_notify_machine","args":["m3"]}`, notifyOp{machine: true, name: ptr("m3")}, ""},
		{"no_notify_machine all", `{"command":"no_notify_machine","args":[null]}`, notifyOp{machine: true}, ""},
		{"notify_machine bad name", `{"command":"notify_machine","args":[3]}`, nil,
			`notify_machine: argument 'machine_name' must be a string, got a number (3)`},

		{"get_board_position", `{"command":"get_board_position","args":["spinn-4x2",1,1,0]}`,
			boardPositionOp{machine: "spinn-4x2", board: geometry.Board{X: 1, Y: 1, Z: 0}}, ""},
		{"get_board_position keywords", `{"command":"get_board_position","kwargs":{"machine_name":"m","x":1,"y":2,"z":0}}`,
			boardPositionOp{machine: "m", board: geometry.Board{X: 1, Y: 2, Z: 0}}, ""},
		{"get_board_position mixed", `{"command":"get_board_position","args":["m",1],"kwargs":{"z":2,"y":0}}`,
			boardPositionOp{machine: "m", board: geometry.Board{X: 1, Y: 0, Z: 2}}, ""},
		{"get_board_position one too few", `{"command": "get_board_position", "args": ["m3", 0, 0], "kwargs": {}}`, nil,
			"get_board_position: missing required argument 'z'"},
		{"get_board_position machine not a string", `{"command":"get_board_position","args":[0,0,0,0]}`, nil,
			"get_board_position: argument 'machine_name' must be a string, got a number (0)"},
		{"get_board_position null coordinate", `{"command":"get_board_position","args":["m",null,0,0]}`, nil,
			"get_board_position: argument 'x' must be an integer, got null"},
		{"get_board_at_position", `{"command":"get_board_at_position","args":["spinn-4x2",0,1,3]}`,
			boardAtPositionOp{machine: "spinn-4x2", pos: service.Physical{Cabinet: 0, Frame: 1, Board: 3}}, ""},
		{"get_board_at_position spec keywords", `{"command":"get_board_at_position","kwargs":{"machine_name":"m","cabinet":1,"frame":2,"board":3}}`,
			boardAtPositionOp{machine: "m", pos: service.Physical{Cabinet: 1, Frame: 2, Board: 3}}, ""},
		{"get_board_at_position original keywords", `{"command":"get_board_at_position","kwargs":{"machine_name":"m","x":1,"y":2,"z":3}}`,
			boardAtPositionOp{machine: "m", pos: service.Physical{Cabinet: 1, Frame: 2, Board: 3}}, ""},
		{"get_board_at_position too many", `{"command":"get_board_at_position","args":["m",1,2,3,4]}`, nil,
			"get_board_at_position takes at most 4 positional arguments (machine_name, cabinet, frame, board) but 5 were given"},

		{"report_problem", `{"command":"report_problem","args":["10.2.0.1"]}`,
			reportProblemOp{r: service.ProblemReport{IP: "10.2.0.1"}}, ""},
		{"report_problem full", `{"command":"report_problem","args":["10.2.0.1"],"kwargs":{"x":1,"y":2,"p":3,"description":"hot"}}`,
			reportProblemOp{r: service.ProblemReport{IP: "10.2.0.1", ChipX: ptr(1), ChipY: ptr(2), Core: ptr(3), Description: "hot"}}, ""},
		{"report_problem no address", `{"command":"report_problem"}`, nil, "report_problem: missing required argument 'address'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseLine([]byte(tt.line), &request{})
			checkParse(t, got, err, tt.want, tt.err)
		})
	}
}

// where_is's keywords are parsed by type; which sets are valid is the
// service's to say (proto_test.go checks its messages end to end).
func TestParseWhereIs(t *testing.T) {
	wq := func(q service.WhereIsQuery) op { return whereIsOp{q: q} }
	m, spinn := "m", "spinn-4x2"
	one := ptr[int64](1)
	tests := []struct {
		name string
		kw   string
		want op
		err  string
	}{
		{"logical board", `{"machine": "spinn-4x2", "x": 1, "y": 1, "z": 0}`,
			wq(service.WhereIsQuery{Machine: &spinn, X: ptr(1), Y: ptr(1), Z: ptr(0)}), ""},
		{"physical", `{"machine": "spinn-4x2", "cabinet": 0, "frame": 1, "board": 3}`,
			wq(service.WhereIsQuery{Machine: &spinn, Cabinet: ptr(0), Frame: ptr(1), Board: ptr(3)}), ""},
		{"machine chip", `{"machine": "spinn-4x2", "chip_x": 20, "chip_y": 10}`,
			wq(service.WhereIsQuery{Machine: &spinn, ChipX: ptr(20), ChipY: ptr(10)}), ""},
		{"negative machine chip", `{"machine": "m", "chip_x": -1, "chip_y": -13}`,
			wq(service.WhereIsQuery{Machine: &m, ChipX: ptr(-1), ChipY: ptr(-13)}), ""},
		{"job chip", `{"job_id": 1, "chip_x": 13, "chip_y": 5}`,
			wq(service.WhereIsQuery{JobID: one, ChipX: ptr(13), ChipY: ptr(5)}), ""},
		{"job chip with floats", `{"job_id": 1.0, "chip_x": 13.0, "chip_y": 5}`,
			wq(service.WhereIsQuery{JobID: one, ChipX: ptr(13), ChipY: ptr(5)}), ""},
		{"null keywords are not given", `{"machine": null, "job_id": 1, "chip_x": 13, "chip_y": 5, "x": null}`,
			wq(service.WhereIsQuery{JobID: one, ChipX: ptr(13), ChipY: ptr(5)}), ""},
		{"no keywords", `{}`, wq(service.WhereIsQuery{}), ""},
		{"z missing", `{"machine": "m", "x": 0, "y": 0}`, wq(service.WhereIsQuery{Machine: &m, X: ptr(0), Y: ptr(0)}), ""},
		{"unknown keyword", `{"machine": "m", "x": 0, "y": 0, "z": 0, "w": 1}`,
			wq(service.WhereIsQuery{Machine: &m, X: ptr(0), Y: ptr(0), Z: ptr(0), Unknown: []string{"w"}}), ""},
		{"machine not a string", `{"machine": 1, "x": 0, "y": 0, "z": 0}`, nil,
			"where_is: argument 'machine' must be a string, got a number (1)"},
		{"chip not an integer", `{"job_id": 1, "chip_x": 0.5, "chip_y": 0}`, nil,
			"where_is: argument 'chip_x' must be an integer, got a number (0.5)"},
		{"job id not an integer", `{"job_id": "1", "chip_x": 0, "chip_y": 0}`, nil,
			`where_is: argument 'job_id' must be an integer, got a string ("1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := `{"command": "where_is", "args": [], "kwargs": ` + tt.kw + `}`
			_, got, err := parseLine([]byte(line), &request{})
			checkParse(t, got, err, tt.want, tt.err)
		})
	}
	t.Run("positional arguments", func(t *testing.T) {
		_, _, err := parseLine([]byte(`{"command":"where_is","args":["m",0,0,0]}`), &request{})
		checkParse(t, nil, err, nil, "where_is takes keyword arguments only (4 positional given)")
	})
}

// TestParseMalformed covers PROTO-12 and other lines that are not requests.
func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name, line, err string
	}{
		{"invalid JSON", `{`, "invalid request: not valid JSON: unexpected end of line"},
		{"not an object", `[1,2]`, "invalid request: expected a JSON object, got a list"},
		{"a number", `42`, "invalid request: expected a JSON object, got a number"},
		{"no command", `{}`, `invalid request: missing "command"`},
		{"command not a string", `{"command":123}`, `invalid request: "command" must be a string, got a number`},
		{"unknown command", `{"command":"no such command"}`, `unknown command "no such command"`},
		{"unknown command from the client", `{"command": "no_such_command", "args": [], "kwargs": {}}`,
			`unknown command "no_such_command"`},
		{"args not a list", `{"command":"version","args":"hoho"}`, `invalid request: "args" must be a list, got a string`},
		{"kwargs not an object", `{"command":"version","kwargs":"hoho"}`, `invalid request: "kwargs" must be an object, got a string`},
		// The connection skips blank lines before they reach the parser.
		{"nothing", ``, "invalid request: not valid JSON: unexpected end of line"},
		{"trailing garbage", `{"command":"version"} x`, "invalid request: not valid JSON: unexpected 'x' after the value"},
		{"two objects", `{"command":"version"}{"command":"version"}`, "invalid request: not valid JSON: unexpected '{' after the value"},
		{"command twice", `{"command":"version","command":"list_jobs"}`, `invalid request: "command" given twice`},
		{"keyword twice", `{"command":"get_job_state","kwargs":{"job_id":1,"job_id":2}}`,
			`invalid request: keyword argument "job_id" given twice`},
		{"bad escape", `{"command":"ver\qsion"}`, `invalid request: not valid JSON: invalid escape 'q'`},
		{"control character", "{\"command\":\"a\x01\"}", `invalid request: not valid JSON: control character`},
		{"single quotes", `{'command':'version'}`, `invalid request: not valid JSON: unexpected '\'' at byte 1`},
		{"deep nesting", `{"command":"version","x":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`,
			"invalid request: not valid JSON: nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseLine([]byte(tt.line), &request{})
			checkParse(t, nil, err, nil, tt.err)
		})
	}
}

func TestParseAcceptsCRLFAndSpaces(t *testing.T) {
	_, got, err := parseLine([]byte("  {\"command\" : \"get_job_state\" , \"args\" : [ 7 ] }\r"), &request{})
	checkParse(t, got, err, jobOp{jobGetState, 7}, "")
}

func TestRecordRequestKeepsOrderAndNulls(t *testing.T) {
	req, err := parseRequest([]byte(`{"command":"create_job","args":[ 2 , 1 ],"kwargs":{"tags" : [ "a" , "b" ],"owner":"x","machine":null,"keepalive":1,"weird key\n":"v\"q"}}`))
	if err != nil {
		t.Fatal(err)
	}
	args, kwargs := recordRequest(&req)
	if string(args) != `[2,1]` {
		t.Errorf("args %s", args)
	}
	if want := `{"tags":["a","b"],"machine":null,"weird key\n":"v\"q"}`; string(kwargs) != want {
		t.Errorf("kwargs %s, want %s", kwargs, want)
	}
}
