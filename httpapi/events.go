package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/spalloc/spallocd/service"
)

// eventWriteTimeout drops an event-stream client that stops reading.
const eventWriteTimeout = 10 * time.Second

type changeEventJSON struct {
	Jobs     []int64  `json:"jobs"`
	Machines []string `json:"machines"`
}

// events streams the service's change feed as server-sent events: one
// "hello" when the stream opens (the client then loads everything, so no
// change between its first load and the subscription is lost), then one
// "change" event per coalesced batch of changes with the job ids and
// machine names, and a comment as a heartbeat while idle.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The server's write timeout is for ordinary replies; a stream lives as
	// long as its client and gets a deadline per write instead.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		a.log.Debug("event stream without write deadline control", "err", err)
	}
	sub := a.svc.Subscribe()
	if sub == nil {
		writeErrorMsg(w, http.StatusServiceUnavailable, "change feed not available")
		return
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(chunk string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	hello, _ := json.Marshal(versionJSON{Version: a.opts.Version})
	if !send("retry: 2000\nevent: hello\ndata: " + string(hello) + "\n\n") {
		return
	}
	heartbeat := time.NewTicker(a.opts.HeartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.opts.Done:
			return
		case <-heartbeat.C:
			if !send(": ping\n\n") {
				return
			}
		case <-sub.C:
			c := sub.Take()
			if len(c.Jobs) == 0 && len(c.Machines) == 0 && len(c.BMPs) == 0 {
				continue
			}
			if !send(changeEvent(c)) {
				return
			}
		}
	}
}

func changeEvent(c service.Change) string {
	ev := changeEventJSON{Jobs: c.Jobs, Machines: c.Machines}
	if ev.Jobs == nil {
		ev.Jobs = []int64{}
	}
	if ev.Machines == nil {
		ev.Machines = []string{}
	}
	data, _ := json.Marshal(ev)
	return "event: change\ndata: " + string(data) + "\n\n"
}

type consistencyJSON struct {
	Consistent bool     `json:"consistent"`
	Problems   []string `json:"problems"`
}

// consistency runs the check of docs/architecture.md (no board in two jobs,
// no board held by a dead job, power that agrees with jobs and pending
// operations).
// Problems found are a 200 reply with consistent=false: the check worked.
func (a *api) consistency(w http.ResponseWriter, r *http.Request) {
	problems, err := a.svc.CheckConsistency(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if problems == nil {
		problems = []string{}
	}
	writeJSON(w, http.StatusOK, consistencyJSON{Consistent: len(problems) == 0, Problems: problems})
}
