package httpapi

// Facility policy: draining machines, and the audit log of who did what.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// drainMachine stops new allocations on a machine; its running jobs
// continue. The reply is the machine.
func (a *api) drainMachine(w http.ResponseWriter, r *http.Request) {
	var body reasonBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) || !requireReason(w, body.Reason) {
		return
	}
	if err := a.svc.DrainMachine(r.Context(), chi.URLParam(r, "machine"), body.Reason); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.getMachine(w, r)
}

// undrainMachine lets a machine take allocations again.
func (a *api) undrainMachine(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) {
		return
	}
	if err := a.svc.UndrainMachine(r.Context(), chi.URLParam(r, "machine")); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.getMachine(w, r)
}

type auditEntryJSON struct {
	ID      int64   `json:"id"`
	At      float64 `json:"at"`
	By      string  `json:"by"`
	From    *string `json:"from"` // the client's address
	Action  string  `json:"action"`
	Target  string  `json:"target"`
	Reason  *string `json:"reason"`
	Machine *string `json:"machine"`
	JobID   *int64  `json:"job_id"`
	Board   *xyz    `json:"board"`
}

type auditListJSON struct {
	Entries []auditEntryJSON `json:"entries"`
	pageJSON
}

// audit lists who did what, newest first, filtered by time range, by whom,
// machine, job, board and action.
func (a *api) audit(w http.ResponseWriter, r *http.Request) {
	q, ok := auditQuery(w, r)
	if !ok {
		return
	}
	entries, total, err := a.svc.Audit(r.Context(), q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := auditListJSON{Entries: make([]auditEntryJSON, 0, len(entries)), pageJSON: pageJSON{Total: total, Limit: q.Limit, Offset: q.Offset}}
	for _, e := range entries {
		ej := auditEntryJSON{ID: e.ID, At: unixOf(e.At), By: e.By, Action: e.Action, Target: e.Target,
			Reason: e.Reason, Machine: e.Machine, JobID: e.JobID}
		if e.From != "" {
			ej.From = &e.From
		}
		if e.Board != nil {
			b := toXYZ(*e.Board)
			ej.Board = &b
		}
		out.Entries = append(out.Entries, ej)
	}
	writeJSON(w, http.StatusOK, out)
}

// auditQuery parses the audit filters.
func auditQuery(w http.ResponseWriter, r *http.Request) (service.AuditQuery, bool) {
	params := r.URL.Query()
	q := service.AuditQuery{By: params.Get("by"), Machine: params.Get("machine"), Action: params.Get("action")}
	var ok bool
	if q.Since, ok = timeParam(w, r, "since"); !ok {
		return q, false
	}
	if q.Until, ok = timeParam(w, r, "until"); !ok {
		return q, false
	}
	if raw := params.Get("job"); raw != "" {
		if q.JobID, ok = parseJobID(w, "job", raw); !ok {
			return q, false
		}
	}
	if raw := params.Get("board"); raw != "" {
		b, err := parseBoard(raw)
		if err != nil {
			badParam(w, "board", err.Error())
			return q, false
		}
		q.Board = &b
	}
	q.Limit, q.Offset, ok = pageParams(w, r)
	return q, ok
}

// parseBoard parses "x,y,z".
func parseBoard(raw string) (geometry.Board, error) {
	bad := fmt.Errorf("must be x,y,z (three integers from 0), not %q", raw)
	parts := strings.Split(raw, ",")
	if len(parts) != 3 {
		return geometry.Board{}, bad
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return geometry.Board{}, bad
		}
		v[i] = n
	}
	if v[2] > 2 {
		return geometry.Board{}, fmt.Errorf("z must be 0, 1 or 2, not %d", v[2])
	}
	return geometry.Board{X: v[0], Y: v[1], Z: v[2]}, nil
}
