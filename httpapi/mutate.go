package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/spalloc/spallocd/service/geometry"
)

// Mutations. Each requires the admin token (requireAdmin) and is one
// service operation, which logs it with who acted (requireAdmin names
// them); the reply is the changed object's new state.

type reasonBody struct {
	Reason string `json:"reason"`
}

// requireReason checks that a reason was given: operators' actions are
// recorded with why they were taken.
func requireReason(w http.ResponseWriter, reason string) bool {
	if strings.TrimSpace(reason) == "" {
		badParam(w, "reason", "is required")
		return false
	}
	return true
}

// destroyJob destroys a live job with the operator's reason.
func (a *api) destroyJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	var body reasonBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) || !requireReason(w, body.Reason) {
		return
	}
	if err := a.svc.DestroyJobByOperator(r.Context(), id, body.Reason); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.getJob(w, r)
}

type outOfServiceBody struct {
	Reason     string `json:"reason"`
	DestroyJob bool   `json:"destroy_job"` // also destroy the job holding the board
}

func (a *api) boardOutOfService(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	var body outOfServiceBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) || !requireReason(w, body.Reason) {
		return
	}
	if err := a.svc.TakeBoardOutOfService(r.Context(), machine, b, body.Reason, body.DestroyJob); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeBoard(w, r, machine, b)
}

func (a *api) boardInService(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	var body struct{}
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) {
		return
	}
	if err := a.svc.SetBoardInService(r.Context(), machine, b, true, ""); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeBoard(w, r, machine, b)
}

type powerBody struct {
	On *bool `json:"on"`
}

// powerBoard switches a board that is not in a job on or off.
func (a *api) powerBoard(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	var body powerBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) {
		return
	}
	if body.On == nil {
		badParam(w, "on", "is required (true or false)")
		return
	}
	if err := a.svc.PowerBoard(r.Context(), machine, b, *body.On); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeBoard(w, r, machine, b)
}

type linkBody struct {
	Dead *bool `json:"dead"`
}

// setLink marks the link leaving a board dead or alive.
func (a *api) setLink(w http.ResponseWriter, r *http.Request) {
	machine, b, ok := boardParams(w, r)
	if !ok {
		return
	}
	raw := chi.URLParam(r, "link")
	l, err := parseLink(raw)
	if err != nil {
		badParam(w, "link", "must be one of east, north_east, north, west, south_west, south (or 0-5), not "+quote(raw))
		return
	}
	var body linkBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) {
		return
	}
	if body.Dead == nil {
		badParam(w, "dead", "is required (true or false)")
		return
	}
	if err := a.svc.SetLinkDead(r.Context(), machine, b, l, *body.Dead); err != nil {
		a.writeError(w, r, err)
		return
	}
	m, err := a.svc.MachineDetail(r.Context(), machine)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMachineJSON(m.MachineSummary))
}

func (a *api) emergencyStop(w http.ResponseWriter, r *http.Request) {
	var body reasonBody
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) || !requireReason(w, body.Reason) {
		return
	}
	if err := a.svc.EmergencyStop(r.Context(), body.Reason); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.health(w, r)
}

func (a *api) resume(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !decodeBody(w, r, a.opts.MaxBodyBytes, &body) {
		return
	}
	if err := a.svc.Resume(r.Context()); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.health(w, r)
}

func quote(s string) string { return `"` + s + `"` }

// parseLink accepts a link name or its wire number 0-5.
func parseLink(raw string) (geometry.Link, error) {
	if n, err := strconv.Atoi(raw); err == nil {
		if l := geometry.Link(n); l.Valid() {
			return l, nil
		}
	}
	return geometry.ParseLink(raw)
}
