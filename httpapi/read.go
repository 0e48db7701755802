package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// Paging limits of the job list.
const (
	defaultJobLimit = 100
	maxJobLimit     = 1000
)

type versionJSON struct {
	Version string `json:"version"`
}

func (a *api) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionJSON{Version: a.opts.Version})
}

type healthJSON struct {
	Status        string            `json:"status"` // "ok" or "unhealthy"
	DatabaseOK    bool              `json:"database_ok"`
	EmergencyStop bool              `json:"emergency_stop"`
	Version       string            `json:"version"`
	Checks        map[string]string `json:"checks"` // name -> "ok" or the error
}

// health answers 200 when the database answers and every extra check
// passes, else 503. An emergency stop is reported but is not ill health.
func (a *api) health(w http.ResponseWriter, r *http.Request) {
	h := a.svc.Health(r.Context())
	out := healthJSON{Status: "ok", DatabaseOK: h.DatabaseOK, EmergencyStop: h.EmergencyStop, Version: a.opts.Version, Checks: map[string]string{}}
	out.Checks["database"] = "ok"
	if !h.DatabaseOK {
		out.Status = "unhealthy"
		out.Checks["database"] = "not reachable"
	}
	out.Checks["writes"] = "ok"
	if !h.WritesOK {
		out.Status = "unhealthy"
		out.Checks["writes"] = fmt.Sprintf("the last %d write transactions failed: %s", h.FailedWrites, h.LastWriteErr)
	}
	names := make([]string, 0, len(a.opts.Checks))
	for name := range a.opts.Checks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := a.opts.Checks[name](r.Context()); err != nil {
			out.Status = "unhealthy"
			out.Checks[name] = err.Error()
			continue
		}
		out.Checks[name] = "ok"
	}
	code := http.StatusOK
	if out.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, out)
}

// listMachines lists the machines in priority order with their queue
// lengths and board counts by state.
func (a *api) listMachines(w http.ResponseWriter, r *http.Request) {
	ms, err := a.svc.ListMachines(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	stats, err := a.svc.Stats(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]machineJSON, 0, len(ms))
	for _, m := range ms {
		mj := toMachineJSON(m)
		q := stats.QueueByMachine[m.Name]
		mj.QueueLength = &q
		mj.BoardCounts = stats.BoardsByState[m.Name]
		if mj.BoardCounts == nil {
			mj.BoardCounts = map[string]int{}
		}
		out = append(out, mj)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) getMachine(w http.ResponseWriter, r *http.Request) {
	m, err := a.svc.MachineDetail(r.Context(), chi.URLParam(r, "machine"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMachineDetailJSON(m))
}

// boardParams parses the machine and x/y/z path parameters.
func boardParams(w http.ResponseWriter, r *http.Request) (string, geometry.Board, bool) {
	var b geometry.Board
	var ok bool
	if b.X, ok = intParam(w, "x", chi.URLParam(r, "x")); !ok {
		return "", b, false
	}
	if b.Y, ok = intParam(w, "y", chi.URLParam(r, "y")); !ok {
		return "", b, false
	}
	if b.Z, ok = intParam(w, "z", chi.URLParam(r, "z")); !ok {
		return "", b, false
	}
	if b.Z < 0 || b.Z > 2 {
		badParam(w, "z", "must be 0, 1 or 2")
		return "", b, false
	}
	return chi.URLParam(r, "machine"), b, true
}

// findBoard returns one board of a machine's board map.
func (a *api) findBoard(ctx context.Context, machine string, b geometry.Board) (*service.BoardInfo, error) {
	m, err := a.svc.MachineDetail(ctx, machine)
	if err != nil {
		return nil, err
	}
	for i := range m.Boards {
		if m.Boards[i].Board == b {
			return &m.Boards[i], nil
		}
	}
	return nil, service.NotFound("machine %q has no board %s", machine, b)
}

func (a *api) getBoard(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	a.writeBoard(w, r, machine, b)
}

// writeBoard answers with the current state of one board.
func (a *api) writeBoard(w http.ResponseWriter, r *http.Request, machine string, b geometry.Board) {
	info, err := a.findBoard(r.Context(), machine, b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toBoardJSON(*info))
}

func (a *api) boardHistory(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	hist, err := a.svc.BoardHistory(r.Context(), machine, b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]allocationJSON, 0, len(hist))
	for _, h := range hist {
		out = append(out, allocationJSON{JobID: h.JobID, Owner: h.Owner, AllocatedAt: unixOf(h.AllocatedAt), FreedAt: unixPtr(h.FreedAt)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) boardReports(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	reps, err := a.svc.BoardReports(r.Context(), machine, b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]reportJSON, 0, len(reps))
	for _, p := range reps {
		out = append(out, reportJSON{
			ID: p.ID, IP: p.IP, JobID: p.JobID, ChipX: p.ChipX, ChipY: p.ChipY, Core: p.Core,
			Description: p.Description, Reporter: p.Reporter, ReportedAt: unixOf(p.ReportedAt),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// parseStates parses "queued,power" (names or wire numbers, or "live" for
// every state but destroyed).
func parseStates(raw string) ([]service.JobState, error) {
	var out []service.JobState
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(strings.ToLower(part))
		switch part {
		case "":
			continue
		case "live":
			out = append(out, service.StateQueued, service.StatePower, service.StateReady)
			continue
		}
		st, ok := stateByName(part)
		if !ok {
			return nil, fmt.Errorf("unknown job state %q (want queued, power, ready, destroyed or live)", part)
		}
		out = append(out, st)
	}
	return out, nil
}

func stateByName(s string) (service.JobState, bool) {
	for _, st := range []service.JobState{service.StateQueued, service.StatePower, service.StateReady, service.StateDestroyed} {
		if s == st.String() || s == strconv.Itoa(int(st)) {
			return st, true
		}
	}
	return 0, false
}

// pageJSON says which page of a list a reply holds (jobs, audit log).
type pageJSON struct {
	Total  int `json:"total"` // items matching the filters, on every page
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// pageParams parses the limit and offset of a list.
func pageParams(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	if limit, ok = optIntParam(w, r, "limit", defaultJobLimit, 1, maxJobLimit); !ok {
		return 0, 0, false
	}
	offset, ok = optIntParam(w, r, "offset", 0, 0, 1<<31-1)
	return limit, offset, ok
}

type jobListJSON struct {
	Jobs []jobJSON `json:"jobs"`
	pageJSON
}

// listJobs lists jobs, newest first, filtered by state, owner, machine and
// time range (since, until: jobs that existed at some time between them).
func (a *api) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f service.JobFilter
	var ok bool
	if raw := q.Get("state"); raw != "" {
		states, err := parseStates(raw)
		if err != nil {
			badParam(w, "state", err.Error())
			return
		}
		f.States = states
	}
	f.Owner = q.Get("owner")
	f.Machine = q.Get("machine")
	if f.Limit, f.Offset, ok = pageParams(w, r); !ok {
		return
	}
	jq := service.JobQuery{JobFilter: f}
	if jq.Since, ok = timeParam(w, r, "since"); !ok {
		return
	}
	if jq.Until, ok = timeParam(w, r, "until"); !ok {
		return
	}
	jobs, total, err := a.svc.QueryJobs(r.Context(), jq)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := jobListJSON{Jobs: make([]jobJSON, 0, len(jobs)), pageJSON: pageJSON{Total: total, Limit: f.Limit, Offset: f.Offset}}
	for i := range jobs {
		jj := toJobJSON(&jobs[i], false)
		a.addKeepalive(&jj)
		out.Jobs = append(out.Jobs, jj)
	}
	writeJSON(w, http.StatusOK, out)
}

// jobID parses the {id} path parameter.
func jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	return parseJobID(w, "id", chi.URLParam(r, "id"))
}

// parseJobID parses the job id raw given as parameter name.
func parseJobID(w http.ResponseWriter, name, raw string) (int64, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		badParam(w, name, fmt.Sprintf("must be a positive integer job id, not %q", raw))
		return 0, false
	}
	return id, true
}

func (a *api) getJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	j, err := a.svc.JobDetail(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := toJobJSON(j, true)
	a.addKeepalive(&out)
	writeJSON(w, http.StatusOK, out)
}

// queue lists every queued job, oldest first, with why it waits.
func (a *api) queue(w http.ResponseWriter, r *http.Request) {
	jobs, _, err := a.svc.Jobs(r.Context(), service.JobFilter{States: []service.JobState{service.StateQueued}, Limit: maxJobLimit})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].ID < jobs[k].ID })
	out := make([]jobJSON, 0, len(jobs))
	for i := range jobs {
		out = append(out, toJobJSON(&jobs[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) pendingOps(w http.ResponseWriter, r *http.Request) {
	ops, err := a.svc.PendingOps(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPendingOpsJSON(ops))
}

// whereIs answers the four where_is forms of the protocol, given as query
// parameters: machine+x+y+z, machine+cabinet+frame+board,
// machine+chip_x+chip_y, job_id+chip_x+chip_y (the service decides which
// sets are valid).
func (a *api) whereIs(w http.ResponseWriter, r *http.Request) {
	q, ok := parseWhereIs(w, r)
	if !ok {
		return
	}
	res, err := a.svc.WhereIs(r.Context(), q)
	if service.KindOf(err) == service.KindInvalid {
		writeErrorMsg(w, http.StatusBadRequest, "where_is: "+service.UserMessage(err)+"; give exactly one of: "+service.WhereIsUsage)
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if res == nil {
		writeErrorMsg(w, http.StatusNotFound, "no such board or chip")
		return
	}
	writeJSON(w, http.StatusOK, toWhereIsJSON(res))
}

// parseWhereIs reads the where_is parameters by type: machine a name,
// job_id and the coordinates integers. Another parameter is refused.
func parseWhereIs(w http.ResponseWriter, r *http.Request) (service.WhereIsQuery, bool) {
	var q service.WhereIsQuery
	ints := map[string]**int{"x": &q.X, "y": &q.Y, "z": &q.Z, "cabinet": &q.Cabinet, "frame": &q.Frame,
		"board": &q.Board, "chip_x": &q.ChipX, "chip_y": &q.ChipY, "job_id": nil}
	for name, vals := range r.URL.Query() {
		if len(vals) > 1 {
			badParam(w, name, "given more than once")
			return q, false
		}
		if name == "machine" {
			q.Machine = &vals[0]
			continue
		}
		field, known := ints[name]
		if !known {
			badParam(w, name, "unknown parameter; give exactly one of: "+service.WhereIsUsage)
			return q, false
		}
		v, ok := intParam(w, name, vals[0])
		if !ok {
			return q, false
		}
		if field == nil {
			id := int64(v)
			q.JobID = &id
		} else {
			*field = &v
		}
	}
	// Host stays empty: an operator looking does not keep a job alive.
	return q, true
}
