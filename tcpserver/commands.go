package tcpserver

// The command table: for each v1 command, a pure parse step (request ->
// op, testable without a service) and an exec step (op -> service call ->
// the JSON value of "return").

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/spalloc/spallocd/internal/buildinfo"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// op is one parsed request, ready to run.
type op interface {
	// exec runs the op and appends the JSON value of "return" to b.
	exec(ctx context.Context, e *env, b []byte) ([]byte, error)
}

// env is what an op may use: the service, the client's address and the
// connection's subscriptions.
type env struct {
	svc     backend
	rec     service.ProtocolRecorder
	host    string
	watches *watches
	log     *slog.Logger
	remote  string        // for log lines
	req     request       // the request being parsed; its lists are reused
	heavy   chan struct{} // a slot for a costly reply (see Server.heavy); nil: no bound
}

// respond runs one request line and appends the complete reply line to b:
// {"return": ...} or {"exception": ...}, ending in a newline. Every line
// gets exactly one reply.
func respond(ctx context.Context, e *env, line, b []byte) []byte {
	start := len(b)
	cmd, o, err := parseLine(line, &e.req)
	if err != nil {
		e.rec.ProtocolRequest(cmd, errBadRequest)
		return appendException(b, err.Error())
	}
	b = append(b, `{"return":`...)
	b, err = o.exec(ctx, e, b)
	e.rec.ProtocolRequest(cmd, err)
	if err != nil {
		return appendException(b[:start], e.serviceMessage(cmd, err))
	}
	return append(b, "}\n"...)
}

// errBadRequest is what the recorder is told of a request that could not
// be parsed or bound (its kind is what counts).
var errBadRequest = service.Invalid("bad request")

// serviceMessage is the exception text for a service error; internal
// details go to the log only, once (the service logs its own).
func (e *env) serviceMessage(cmd string, err error) string {
	if service.KindOf(err) == service.KindInternal && !service.Logged(err) {
		e.log.Error("tcpserver: command failed", "command", cmd, "remote", e.remote, "err", err)
	}
	return service.UserMessage(err)
}

type parseFunc func(req *request) (op, error)

var commands map[string]parseFunc

func init() {
	commands = map[string]parseFunc{
		"version":               parseVersion,
		"create_job":            parseCreateJob,
		"job_keepalive":         jobCommand("job_keepalive", jobKeepalive),
		"get_job_state":         jobCommand("get_job_state", jobGetState),
		"get_job_machine_info":  jobCommand("get_job_machine_info", jobGetMachineInfo),
		"power_on_job_boards":   jobCommand("power_on_job_boards", jobPowerOn),
		"power_off_job_boards":  jobCommand("power_off_job_boards", jobPowerOff),
		"destroy_job":           parseDestroyJob,
		"notify_job":            notifyJobCommand("notify_job", true),
		"no_notify_job":         notifyJobCommand("no_notify_job", false),
		"notify_machine":        notifyMachineCommand("notify_machine", true),
		"no_notify_machine":     notifyMachineCommand("no_notify_machine", false),
		"list_jobs":             noArgs("list_jobs", listJobsOp{}),
		"list_machines":         noArgs("list_machines", listMachinesOp{}),
		"get_board_position":    parseBoardPosition,
		"get_board_at_position": parseBoardAtPosition,
		"where_is":              parseWhereIs,
		"report_problem":        parseReportProblem,
	}
}

// Commands returns the name of every v1 command, sorted: the metrics count
// requests by these names.
func Commands() []string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// commandNames interns the command names, so that parsing a known command
// does not allocate its name.
var commandNames map[string]string

func init() {
	commandNames = make(map[string]string, len(commands))
	for name := range commands {
		commandNames[name] = name
	}
}

// parseLine parses a request line into req (whose lists it reuses) and
// binds its arguments.
func parseLine(line []byte, req *request) (string, op, error) {
	if err := parseRequestInto(req, line); err != nil {
		return "", nil, err
	}
	parse, ok := commands[req.command]
	if !ok {
		return req.command, nil, fmt.Errorf("unknown command %s", jsonQuote(req.command))
	}
	o, err := parse(req)
	return req.command, o, err
}

// ---- version, list_jobs, list_machines ----

type versionOp struct{}

func (versionOp) exec(_ context.Context, _ *env, b []byte) ([]byte, error) {
	return appendString(b, buildinfo.Protocol()), nil
}

func parseVersion(req *request) (op, error) {
	if _, err := bind("version", nil, req); err != nil {
		return nil, err
	}
	return versionOp{}, nil
}

func noArgs(name string, o op) parseFunc {
	return func(req *request) (op, error) {
		if _, err := bind(name, nil, req); err != nil {
			return nil, err
		}
		return o, nil
	}
}

type listJobsOp struct{}

func (listJobsOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	if e.heavy != nil {
		select {
		case e.heavy <- struct{}{}:
			defer func() { <-e.heavy }()
		case <-ctx.Done():
			return b, ctx.Err()
		}
	}
	jobs, err := e.svc.ListJobs(ctx)
	if err != nil {
		return b, err
	}
	b = append(b, '[')
	for i, j := range jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJobSummary(b, j)
	}
	return append(b, ']'), nil
}

type listMachinesOp struct{}

func (listMachinesOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	ms, err := e.svc.ListMachines(ctx)
	if err != nil {
		return b, err
	}
	b = append(b, '[')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMachineSummary(b, m)
	}
	return append(b, ']'), nil
}

// ---- create_job ----

type createJobOp struct{ req service.CreateJobRequest }

func (o createJobOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	r := o.req
	r.Host = e.host
	id, err := e.svc.CreateJob(ctx, r)
	if err != nil {
		return b, err
	}
	return appendInt(b, id), nil
}

// createJobKeywords are create_job's keyword arguments, in the order the
// client sends them.
var createJobKeywords = []string{"owner", "keepalive", "machine", "tags", "min_ratio",
	"max_dead_boards", "max_dead_links", "require_torus"}

func parseCreateJob(req *request) (op, error) {
	const cmd = "create_job"
	var r service.CreateJobRequest
	kw := map[string][]byte{}
	var unknown []string
	for _, k := range req.kwargs {
		if !contains(createJobKeywords, k.name) {
			unknown = append(unknown, k.name)
			continue
		}
		kw[k.name] = k.value
	}
	if len(unknown) > 0 {
		return nil, unexpectedKeywords(cmd, unknown)
	}

	owner, err := optString(cmd, "owner", kw["owner"])
	if err != nil {
		return nil, err
	}
	if owner != nil { // else "": the service says what is wrong with it
		r.Owner = *owner
	}
	if r.Shape, err = parseShape(positional(req)); err != nil {
		return nil, err
	}

	if v, given := kw["keepalive"]; !given {
		ka := service.DefaultKeepaliveSecs
		r.Keepalive = &ka
	} else if !isNull(v) {
		ka, err := needFloat(cmd, "keepalive", v)
		if err != nil {
			return nil, err
		}
		r.Keepalive = &ka
	}
	if r.Machine, err = optString(cmd, "machine", kw["machine"]); err != nil {
		return nil, err
	}
	if r.Tags, err = optStrings(cmd, "tags", kw["tags"]); err != nil {
		return nil, err
	}
	if v := kw["min_ratio"]; v != nil && !isNull(v) {
		if r.MinRatio, err = needFloat(cmd, "min_ratio", v); err != nil {
			return nil, err
		}
	}
	if r.MaxDeadBoards, err = optInt(cmd, "max_dead_boards", kw["max_dead_boards"]); err != nil {
		return nil, err
	}
	if r.MaxDeadLinks, err = optInt(cmd, "max_dead_links", kw["max_dead_links"]); err != nil {
		return nil, err
	}
	if r.RequireTorus, err = optBool(cmd, "require_torus", kw["require_torus"], false); err != nil {
		return nil, err
	}
	r.Args, r.Kwargs = recordRequest(req)
	return createJobOp{req: r}, nil
}

// parseShape maps create_job's positional arguments (trailing nulls already
// removed) to a shape. Values are the service's to check.
func parseShape(args [][]byte) (service.Shape, error) {
	const cmd = "create_job"
	if len(args) > 3 {
		return service.Shape{}, fmt.Errorf(
			"create_job takes at most 3 positional arguments (n | width, height | x, y, z) but %d were given", len(args))
	}
	names := [][]string{nil, {"n"}, {"width", "height"}, {"x", "y", "z"}}[len(args)]
	vals := make([]int, len(args))
	for i, a := range args {
		n, err := needInt(cmd, names[i], a)
		if err != nil {
			return service.Shape{}, err
		}
		vals[i] = n
	}
	switch len(args) {
	case 0:
		return service.Shape{Kind: service.ShapeOneBoard}, nil
	case 1:
		if vals[0] == 1 {
			return service.Shape{Kind: service.ShapeOneBoard}, nil
		}
		return service.Shape{Kind: service.ShapeNBoards, N: vals[0]}, nil
	case 2:
		return service.Shape{Kind: service.ShapeRect, W: vals[0], H: vals[1]}, nil
	default:
		return service.Shape{Kind: service.ShapeBoard, X: vals[0], Y: vals[1], Z: vals[2]}, nil
	}
}

// recordRequest returns create_job's args and kwargs as sent (compacted,
// nulls kept), without owner and keepalive, for list_jobs. The bytes are
// fresh copies: the request line is reused.
func recordRequest(req *request) (args, kwargs []byte) {
	if req.argsRaw == nil {
		args = []byte("[]")
	} else {
		args = appendCompact(nil, req.argsRaw)
	}
	kwargs = append(kwargs, '{')
	first := true
	for _, k := range req.kwargs {
		if k.name == "owner" || k.name == "keepalive" {
			continue
		}
		if !first {
			kwargs = append(kwargs, ',')
		}
		first = false
		kwargs = appendString(kwargs, k.name)
		kwargs = append(kwargs, ':')
		kwargs = appendCompact(kwargs, k.value)
	}
	return args, append(kwargs, '}')
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---- job-specific commands ----

type jobAction int

const (
	jobKeepalive jobAction = iota
	jobGetState
	jobGetMachineInfo
	jobPowerOn
	jobPowerOff
)

type jobOp struct {
	action jobAction
	id     int64
}

func (o jobOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	switch o.action {
	case jobGetState:
		st, err := e.svc.JobState(ctx, o.id, e.host)
		if err != nil {
			return b, err
		}
		return appendJobState(b, st), nil
	case jobGetMachineInfo:
		mi, err := e.svc.JobMachineInfo(ctx, o.id, e.host)
		if err != nil {
			return b, err
		}
		return appendMachineInfo(b, mi), nil
	case jobPowerOn:
		return appendNull(b, e.svc.PowerOnJob(ctx, o.id, e.host))
	case jobPowerOff:
		return appendNull(b, e.svc.PowerOffJob(ctx, o.id, e.host))
	default:
		return appendNull(b, e.svc.Keepalive(ctx, o.id, e.host))
	}
}

func appendNull(b []byte, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	return append(b, "null"...), nil
}

var jobIDParam = []param{{name: "job_id"}}

func jobCommand(name string, action jobAction) parseFunc {
	return func(req *request) (op, error) {
		v, err := bind(name, jobIDParam, req)
		if err != nil {
			return nil, err
		}
		id, err := needInt64(name, "job_id", v[0])
		if err != nil {
			return nil, err
		}
		return jobOp{action: action, id: id}, nil
	}
}

type destroyOp struct {
	id     int64
	reason *string
}

func (o destroyOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	return appendNull(b, e.svc.DestroyJob(ctx, o.id, o.reason, e.host))
}

func parseDestroyJob(req *request) (op, error) {
	const cmd = "destroy_job"
	v, err := bind(cmd, []param{{name: "job_id"}, {name: "reason"}}, req)
	if err != nil {
		return nil, err
	}
	var o destroyOp
	if o.id, err = needInt64(cmd, "job_id", v[0]); err != nil {
		return nil, err
	}
	if o.reason, err = optString(cmd, "reason", v[1]); err != nil {
		return nil, err
	}
	return o, nil
}

// ---- notifications ----

type notifyOp struct {
	on      bool
	machine bool    // machine subscription, else job
	id      *int64  // job; nil = all
	name    *string // machine; nil = all
}

func (o notifyOp) exec(_ context.Context, e *env, b []byte) ([]byte, error) {
	if o.machine {
		e.watches.machine(o.on, o.name)
	} else {
		e.watches.job(o.on, o.id)
	}
	return append(b, "null"...), nil
}

func notifyJobCommand(name string, on bool) parseFunc {
	return func(req *request) (op, error) {
		v, err := bind(name, jobIDParam, req)
		if err != nil {
			return nil, err
		}
		id, err := optInt64(name, "job_id", v[0])
		if err != nil {
			return nil, err
		}
		return notifyOp{on: on, id: id}, nil
	}
}

func notifyMachineCommand(name string, on bool) parseFunc {
	return func(req *request) (op, error) {
		v, err := bind(name, []param{{name: "machine_name"}}, req)
		if err != nil {
			return nil, err
		}
		m, err := optString(name, "machine_name", v[0])
		if err != nil {
			return nil, err
		}
		return notifyOp{on: on, machine: true, name: m}, nil
	}
}

// ---- board positions ----

type boardPositionOp struct {
	machine string
	board   geometry.Board
}

func (o boardPositionOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	p, err := e.svc.BoardPosition(ctx, o.machine, o.board)
	if err != nil {
		return b, err
	}
	if p == nil {
		return append(b, "null"...), nil
	}
	return appendPhysical(b, *p), nil
}

// parseFour binds machine_name and three integers.
func parseFour(cmd string, params []param, req *request) (string, [3]int, error) {
	var xyz [3]int
	v, err := bind(cmd, params, req)
	if err != nil {
		return "", xyz, err
	}
	m, err := needString(cmd, params[0].name, v[0])
	if err != nil {
		return "", xyz, err
	}
	for i := range xyz {
		if xyz[i], err = needInt(cmd, params[i+1].name, v[i+1]); err != nil {
			return "", xyz, err
		}
	}
	return m, xyz, nil
}

var boardPositionParams = []param{{name: "machine_name"}, {name: "x"}, {name: "y"}, {name: "z"}}

func parseBoardPosition(req *request) (op, error) {
	m, v, err := parseFour("get_board_position", boardPositionParams, req)
	if err != nil {
		return nil, err
	}
	return boardPositionOp{machine: m, board: geometry.Board{X: v[0], Y: v[1], Z: v[2]}}, nil
}

type boardAtPositionOp struct {
	machine string
	pos     service.Physical
}

func (o boardAtPositionOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	bd, err := e.svc.BoardAtPosition(ctx, o.machine, o.pos)
	if err != nil {
		return b, err
	}
	if bd == nil {
		return append(b, "null"...), nil
	}
	return appendBoard(b, *bd), nil
}

// The original named these parameters x, y, z; docs/protocol.md names them
// cabinet, frame, board. Both are accepted as keywords.
var boardAtPositionParams = []param{{name: "machine_name"},
	{name: "cabinet", alias: "x"}, {name: "frame", alias: "y"}, {name: "board", alias: "z"}}

func parseBoardAtPosition(req *request) (op, error) {
	m, v, err := parseFour("get_board_at_position", boardAtPositionParams, req)
	if err != nil {
		return nil, err
	}
	return boardAtPositionOp{machine: m, pos: service.Physical{Cabinet: v[0], Frame: v[1], Board: v[2]}}, nil
}

// ---- where_is ----

type whereIsOp struct{ q service.WhereIsQuery }

func (o whereIsOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	q := o.q
	q.Host = e.host
	w, err := e.svc.WhereIs(ctx, q)
	if err != nil {
		return b, err
	}
	return appendWhereIs(b, w), nil
}

// parseWhereIs reads where_is's keyword arguments by type; which sets of
// them are valid is the service's to say (WhereIsQuery).
func parseWhereIs(req *request) (op, error) {
	const cmd = "where_is"
	if n := len(positional(req)); n > 0 {
		return nil, fmt.Errorf("where_is takes keyword arguments only (%d positional given)", n)
	}
	var q service.WhereIsQuery
	ints := map[string]**int{"x": &q.X, "y": &q.Y, "z": &q.Z, "cabinet": &q.Cabinet, "frame": &q.Frame,
		"board": &q.Board, "chip_x": &q.ChipX, "chip_y": &q.ChipY}
	for _, k := range req.kwargs {
		if isNull(k.value) {
			continue
		}
		switch field, isInt := ints[k.name]; {
		case isInt:
			v, err := needInt(cmd, k.name, k.value)
			if err != nil {
				return nil, err
			}
			*field = &v
		case k.name == "machine":
			name, err := needString(cmd, k.name, k.value)
			if err != nil {
				return nil, err
			}
			q.Machine = &name
		case k.name == "job_id":
			id, err := needInt64(cmd, k.name, k.value)
			if err != nil {
				return nil, err
			}
			q.JobID = &id
		default:
			q.Unknown = append(q.Unknown, k.name)
		}
	}
	return whereIsOp{q: q}, nil
}

// ---- report_problem ----

type reportProblemOp struct{ r service.ProblemReport }

func (o reportProblemOp) exec(ctx context.Context, e *env, b []byte) ([]byte, error) {
	r := o.r
	r.Host = e.host
	return appendNull(b, e.svc.ReportProblem(ctx, r))
}

var reportProblemParams = []param{{name: "address"}, {name: "x"}, {name: "y"}, {name: "p"}, {name: "description"}}

func parseReportProblem(req *request) (op, error) {
	const cmd = "report_problem"
	v, err := bind(cmd, reportProblemParams, req)
	if err != nil {
		return nil, err
	}
	var r service.ProblemReport
	if r.IP, err = needString(cmd, "address", v[0]); err != nil {
		return nil, err
	}
	if r.ChipX, err = optInt(cmd, "x", v[1]); err != nil {
		return nil, err
	}
	if r.ChipY, err = optInt(cmd, "y", v[2]); err != nil {
		return nil, err
	}
	if r.Core, err = optInt(cmd, "p", v[3]); err != nil {
		return nil, err
	}
	desc, err := optString(cmd, "description", v[4])
	if err != nil {
		return nil, err
	}
	if desc != nil {
		r.Description = *desc
	}
	return reportProblemOp{r: r}, nil
}
