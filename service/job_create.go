package service

// create_job: validating a request, recording the job and queueing it.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// MaxOwnerBytes is the longest owner a job may have: owners are listed by
// list_jobs, the admin API and the logs, so they must stay small.
const MaxOwnerBytes = 256

// MaxKeepalive is the longest keepalive a job may ask for (about 100
// years; null asks for none at all).
const MaxKeepalive = 100 * 365 * 24 * time.Hour

// CreateJob validates a request, records the job and queues it on every
// machine that could ever hold it, allocating it at once if it is at the
// head of a queue and fits. A request no machine could hold gives a job that
// is destroyed at once ("Cancelled: No suitable machines available.").
// Invalid values give a KindInvalid error and no job.
func (s *Service) CreateJob(ctx context.Context, req CreateJobRequest) (int64, error) {
	nr, err := normalise(req)
	if err != nil {
		return 0, err
	}
	if s.world.Load().stopped {
		return 0, errStopped
	}
	return writeValue(s, ctx, func(t *tx) (int64, error) {
		if t.base.stopped { // stopped meanwhile (the writer orders them)
			return 0, errStopped
		}
		return t.createJob(nr)
	})
}

var errStopped = Unavailable("The server is in emergency stop: no new jobs are accepted until an operator resumes it.")

// newJobRequest is a create_job request after validation.
type newJobRequest struct {
	CreateJobRequest
	keepalive *time.Duration
	req       jobRequest
}

// normalise checks a request's values and turns it into the stored form.
func normalise(req CreateJobRequest) (newJobRequest, error) {
	nr := newJobRequest{CreateJobRequest: req}
	switch {
	case req.Owner == "":
		return nr, Invalid("owner must be specified for all jobs")
	case len(req.Owner) > MaxOwnerBytes:
		return nr, Invalid("owner must be at most %d bytes long, not %d", MaxOwnerBytes, len(req.Owner))
	case req.Machine != nil && req.Tags != nil:
		return nr, Invalid("Only one of machine and tags may be specified for a job.")
	}
	var err error
	if nr.keepalive, err = keepaliveOf(req.Keepalive); err != nil {
		return nr, err
	}
	if nr.req, err = shapeRequest(req.Shape); err != nil {
		return nr, err
	}
	jr := &nr.req
	jr.MinRatio, jr.RequireTorus, jr.Machine = req.MinRatio, req.RequireTorus, req.Machine
	if jr.MaxDeadBoards, err = limit(req.MaxDeadBoards, allocator.ErrNegativeDeadBoard); err != nil {
		return nr, err
	}
	if jr.MaxDeadLinks, err = limit(req.MaxDeadLinks, allocator.ErrNegativeDeadLink); err != nil {
		return nr, err
	}
	jr.Tags = jobTags(req)
	if err := allocator.ValidateRequest(jr.alloc()); err != nil {
		return nr, Invalid("%s", err.Error())
	}
	return nr, nil
}

// keepaliveOf checks a keepalive in seconds (nil = never time out).
func keepaliveOf(secs *float64) (*time.Duration, error) {
	if secs == nil {
		return nil, nil
	}
	k := *secs
	if math.IsNaN(k) || k < 0 || k > MaxKeepalive.Seconds() {
		return nil, Invalid("keepalive must be a non-negative number of seconds, at most %.0f, or null", MaxKeepalive.Seconds())
	}
	d := time.Duration(math.Round(k * float64(time.Second)))
	return &d, nil
}

func shapeRequest(sh Shape) (jobRequest, error) {
	switch sh.Kind {
	case ShapeOneBoard:
		return jobRequest{Kind: allocator.OneBoard}, nil
	case ShapeNBoards:
		return jobRequest{Kind: allocator.NBoards, N: sh.N}, nil
	case ShapeRect:
		return jobRequest{Kind: allocator.Rect, W: sh.W, H: sh.H}, nil
	case ShapeBoard:
		return jobRequest{Kind: allocator.SpecificBoard, Board: &[3]int{sh.X, sh.Y, sh.Z}}, nil
	}
	return jobRequest{}, Invalid("unknown job shape %d", int(sh.Kind))
}

// limit maps a dead-board/link limit: nil is unlimited, negative an error.
func limit(v *int, negative error) (int, error) {
	if v == nil {
		return allocator.Unlimited, nil
	}
	if *v < 0 {
		return 0, Invalid("%s", negative.Error())
	}
	return *v, nil
}

// jobTags are the tags a job selects machines by: none when it names a
// machine, ["default"] when it gives neither.
func jobTags(req CreateJobRequest) []string {
	switch {
	case req.Machine != nil:
		return nil
	case req.Tags == nil:
		return []string{DefaultTag}
	}
	return slices.Clone(req.Tags)
}

// describeRequest says what a request asks for in the user's terms, e.g.
// "2x1 triads" or "7 boards".
func describeRequest(r jobRequest) string {
	switch r.Kind {
	case allocator.NBoards:
		if r.N == 1 {
			return "1 board"
		}
		return fmt.Sprintf("%d boards", r.N)
	case allocator.Rect:
		return fmt.Sprintf("%dx%d triads", r.W, r.H)
	case allocator.SpecificBoard:
		if r.Board != nil {
			return fmt.Sprintf("board (%d, %d, %d)", r.Board[0], r.Board[1], r.Board[2])
		}
	}
	return "1 board"
}

// describeConstraints lists a request's limits, e.g. "max_dead_boards 0".
func describeConstraints(r jobRequest) []string {
	var c []string
	if r.MaxDeadBoards != allocator.Unlimited {
		c = append(c, fmt.Sprintf("max_dead_boards %d", r.MaxDeadBoards))
	}
	if r.MaxDeadLinks != allocator.Unlimited {
		c = append(c, fmt.Sprintf("max_dead_links %d", r.MaxDeadLinks))
	}
	if r.RequireTorus {
		c = append(c, "require_torus")
	}
	return c
}

// describeJob is a request in the user's terms for the log, e.g.
// "2x1 triads, machine demo-4x2, min_ratio 0".
func describeJob(r jobRequest) string {
	parts := []string{describeRequest(r)}
	if r.Machine != nil {
		parts = append(parts, "machine "+*r.Machine)
	} else {
		parts = append(parts, "tags "+strings.Join(r.Tags, ","))
	}
	parts = append(parts, fmt.Sprintf("min_ratio %g", r.MinRatio))
	return strings.Join(append(parts, describeConstraints(r)...), ", ")
}

func (t *tx) createJob(nr newJobRequest) (int64, error) {
	if err := t.checkCreateLimits(nr); err != nil {
		return 0, err
	}
	nr.keepalive = limitKeepalive(nr.keepalive, t.currentSettings().limits)
	reqJSON, err := json.Marshal(nr.req)
	if err != nil {
		return 0, t.s.internal("encode request", err)
	}
	args, kwargs := rawOr(nr.Args, "[]"), rawOr(nr.Kwargs, "{}")
	id, err := t.q.InsertJob(t.ctx, db.InsertJobParams{
		Owner: nr.Owner, Keepalive: secondsPtr(nr.keepalive), Args: string(args), Kwargs: string(kwargs),
		Request: string(reqJSON), State: int64(StateQueued), CreatedAt: unix(t.now), KeepaliveHost: strPtr(nr.Host),
	})
	if err != nil {
		return 0, t.dbErr("insert job", err)
	}
	j := &job{id: id, owner: nr.Owner, keepalive: nr.keepalive, args: args, kwargs: kwargs,
		req: nr.req, areq: nr.req.alloc(), createdAt: t.now, queuedSince: t.now, state: StateQueued}
	t.jobs[id] = j
	t.born[id] = nr.Host
	t.change.job(id)
	t.logf("job created", "job", id, "owner", nr.Owner, "request", describeJob(nr.req), "keepalive", keepaliveText(nr.keepalive))
	if err := t.event(j, "created"); err != nil {
		return 0, err
	}
	return id, t.queueOrCancel(j, ReasonNoMachines)
}

func keepaliveText(k *time.Duration) string {
	if k == nil {
		return "none"
	}
	return k.String()
}

func rawOr(r json.RawMessage, empty string) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage(empty)
	}
	return slices.Clone(r)
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// queueOrCancel queues a queued job on every machine that could hold it; if
// there is none it destroys the job: a job that was never allocated gets
// "Cancelled: " + reason, one that failed on its boards gets reason as is.
func (t *tx) queueOrCancel(j *job, reason string) error {
	ms := t.candidates(j)
	if len(ms) == 0 {
		final := CancelledPrefix + reason
		if reason == ReasonConfigFailed {
			final = reason
		}
		return t.destroy(j.id, &final, "no machine can hold it")
	}
	for _, m := range ms {
		t.enqueue(m, j.id)
	}
	return nil
}
