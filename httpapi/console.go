package httpapi

// Reads of the operator console: the boards a job had, a machine's BMPs
// with their work, utilisation history, the emergency stop's details, and
// the job list's time range and keepalive fields.

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/spalloc/spallocd/service"
)

// Defaults and bounds of the utilisation history parameters.
const (
	defaultUtilisationWindow = 24 * time.Hour
	defaultUtilisationSteps  = 48
	maxUtilisationWindow     = 31 * 24 * time.Hour
)

func unixOf(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func unixPtr(t *time.Time) *float64 {
	if t == nil {
		return nil
	}
	v := unixOf(*t)
	return &v
}

// timeParam parses an optional time query parameter given as Unix seconds
// or RFC 3339; the zero time when absent.
func timeParam(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return time.Time{}, true
	}
	if secs, err := strconv.ParseFloat(raw, 64); err == nil && !math.IsNaN(secs) && !math.IsInf(secs, 0) {
		if secs < 0 || secs > 1e11 {
			badParam(w, name, fmt.Sprintf("%s is not a time after 1970 in Unix seconds", raw))
			return time.Time{}, false
		}
		sec, frac := math.Modf(secs)
		return time.Unix(int64(sec), int64(frac*1e9)), true
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		badParam(w, name, fmt.Sprintf("must be Unix seconds or an RFC 3339 time (2024-01-31T12:00:00Z), not %q", raw))
		return time.Time{}, false
	}
	return t, true
}

// durationParam parses an optional Go duration query parameter within
// [lo, hi]; def when absent.
func durationParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi time.Duration) (time.Duration, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		badParam(w, name, fmt.Sprintf("must be a duration such as 30m or 24h, not %q", raw))
		return 0, false
	}
	if d < lo || d > hi {
		badParam(w, name, fmt.Sprintf("must be between %s and %s, not %s", lo, hi, raw))
		return 0, false
	}
	return d, true
}

// addKeepalive fills in when a live job's client was last heard from and
// when the job times out if it stays silent.
func (a *api) addKeepalive(j *jobJSON) {
	seen, ok := a.svc.JobLastSeen(j.JobID)
	if !ok {
		return
	}
	at := unixOf(seen)
	j.LastSeen = &at
	if j.Keepalive != nil {
		exp := at + *j.Keepalive
		j.ExpiresAt = &exp
	}
}

type jobAllocationJSON struct {
	Machine     string   `json:"machine"`
	Retired     bool     `json:"retired"` // the machine was removed or re-created since
	Board       xyz      `json:"board"`
	Physical    *[3]int  `json:"physical"`
	AllocatedAt float64  `json:"allocated_at"`
	FreedAt     *float64 `json:"freed_at"`
}

// jobBoards lists every board a job was given (also after it ended).
func (a *api) jobBoards(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	allocs, err := a.svc.JobAllocations(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]jobAllocationJSON, 0, len(allocs))
	for _, al := range allocs {
		j := jobAllocationJSON{Machine: al.Machine, Retired: al.Retired, Board: toXYZ(al.Board),
			AllocatedAt: unixOf(al.AllocatedAt), FreedAt: unixPtr(al.FreedAt)}
		if p := al.Physical; p != nil {
			j.Physical = &[3]int{p.Cabinet, p.Frame, p.Board}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

type bmpWorkJSON struct {
	bmpJSON
	Boards     int      `json:"boards"`       // boards in its frame
	OpenOps    int      `json:"open_ops"`     // BMP operations not yet done
	OldestOpAt *float64 `json:"oldest_op_at"` // when the oldest of them was requested
	FailingOps int      `json:"failing_ops"`  // open operations that failed at least once
}

// machineBMPs lists a machine's BMPs with reachability and open operations.
func (a *api) machineBMPs(w http.ResponseWriter, r *http.Request) {
	bmps, err := a.svc.MachineBMPs(r.Context(), chi.URLParam(r, "machine"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]bmpWorkJSON, 0, len(bmps))
	for _, b := range bmps {
		out = append(out, bmpWorkJSON{bmpJSON: toBMPJSON(b.BMPState),
			Boards: b.Boards, OpenOps: b.OpenOps, OldestOpAt: unixPtr(b.OldestOp), FailingOps: b.FailingOps})
	}
	writeJSON(w, http.StatusOK, out)
}

type utilisationJSON struct {
	Machine string    `json:"machine"`
	Boards  int       `json:"boards"`  // boards not dead: the capacity
	InUse   int       `json:"in_use"`  // boards held by live jobs now
	Now     float64   `json:"now"`     // in_use / boards
	From    float64   `json:"from"`    // start of the first step (Unix seconds)
	Step    float64   `json:"step"`    // seconds
	History []float64 `json:"history"` // mean fraction of boards held in each step
}

// machineUtilisation answers how much of a machine jobs held now and over
// the last window (default 24h) in steps (default window/48).
func (a *api) machineUtilisation(w http.ResponseWriter, r *http.Request) {
	window, ok := durationParam(w, r, "window", defaultUtilisationWindow, service.MinUtilisationStep, maxUtilisationWindow)
	if !ok {
		return
	}
	step, ok := durationParam(w, r, "step", max(window/defaultUtilisationSteps, service.MinUtilisationStep), service.MinUtilisationStep, window)
	if !ok {
		return
	}
	steps := int((window + step - 1) / step)
	if steps > service.MaxUtilisationBuckets {
		badParam(w, "step", fmt.Sprintf("gives %d steps over %s; at most %d", steps, window, service.MaxUtilisationBuckets))
		return
	}
	u, err := a.svc.MachineUtilisation(r.Context(), chi.URLParam(r, "machine"), step, steps)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := utilisationJSON{Machine: u.Machine, Boards: u.Boards, InUse: u.InUse, From: unixOf(u.From),
		Step: u.Step.Seconds(), History: u.Buckets}
	if u.Boards > 0 {
		out.Now = float64(u.InUse) / float64(u.Boards)
	}
	writeJSON(w, http.StatusOK, out)
}

type emergencyStopJSON struct {
	Stopped bool     `json:"stopped"`
	Reason  *string  `json:"reason"` // of the stop in force, or of the last one
	At      *float64 `json:"at"`
	By      *string  `json:"by"` // who asked for it ("operator" until tokens have names)
}

// emergencyStopState says whether an emergency stop is in force, with the
// reason, time and operator of the last one.
func (a *api) emergencyStopState(w http.ResponseWriter, r *http.Request) {
	info, err := a.svc.EmergencyStopInfo(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := emergencyStopJSON{Stopped: info.Stopped}
	if info.Reason != "" {
		out.Reason = &info.Reason
	}
	if info.By != "" {
		out.By = &info.By
	}
	if !info.At.IsZero() {
		at := unixOf(info.At)
		out.At = &at
	}
	writeJSON(w, http.StatusOK, out)
}
