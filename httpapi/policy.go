package httpapi

// Facility policy: draining machines.

import (
	"net/http"

	"github.com/go-chi/chi/v5"
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
