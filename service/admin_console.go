package service

// Reads of the operator console (the dashboard's job list over time, job
// and machine pages, incident banner) that the other operator reads do not
// cover: jobs by time range, the boards a job had, BMP work per BMP,
// utilisation history and the last emergency stop. All of them read the
// database through the read pool or the committed world; the one write
// here (noteEmergencyStop) runs inside EmergencyStop's transaction.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/geometry"
)

// JobQuery selects jobs for the console's job list: the filters of
// JobFilter and a time range. A job matches the range when it existed at
// some time in it: created by Until and not destroyed before Since. A zero
// Since or Until leaves that end open.
type JobQuery struct {
	JobFilter
	Since, Until time.Time
}

// unixOrNil is t as Unix seconds for a query parameter, nil for zero.
func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return unix(t)
}

// QueryJobs lists jobs matching q, newest first, with the number of matches
// before paging. It is Jobs with a time range.
func (s *Service) QueryJobs(ctx context.Context, q JobQuery) ([]JobDetail, int, error) {
	f := q.JobFilter
	var err error
	if f.Limit, err = pageLimit(f.Limit, f.Offset); err != nil {
		return nil, 0, err
	}
	if err := checkTimeRange(q.Since, q.Until); err != nil {
		return nil, 0, err
	}
	mask := stateMask(f.States)
	since, until := unixOrNil(q.Since), unixOrNil(q.Until)
	total, err := s.rq.ConsoleCountJobs(ctx, db.ConsoleCountJobsParams{StateMask: mask, Owner: orNil(f.Owner),
		Machine: orNil(f.Machine), SinceAt: since, UntilAt: until})
	if err != nil {
		return nil, 0, s.internal("count jobs", err)
	}
	rows, err := s.rq.ConsoleListJobs(ctx, db.ConsoleListJobsParams{StateMask: mask, Owner: orNil(f.Owner),
		Machine: orNil(f.Machine), SinceAt: since, UntilAt: until, Lim: int64(f.Limit), Off: int64(f.Offset)})
	if err != nil {
		return nil, 0, s.internal("list jobs", err)
	}
	w := s.world.Load()
	out := make([]JobDetail, len(rows))
	for i, r := range rows {
		out[i] = s.jobDetail(w, db.AdminGetJobRow(r))
	}
	return out, int(total), nil
}

// JobAllocation is one board a job was given.
type JobAllocation struct {
	Machine     string
	Retired     bool // the machine was removed or re-created since
	Board       geometry.Board
	Physical    *Physical
	AllocatedAt time.Time
	FreedAt     *time.Time
}

// JobAllocations lists every board job id was given, oldest allocation
// first: for a destroyed job, the boards it had.
func (s *Service) JobAllocations(ctx context.Context, id int64) ([]JobAllocation, error) {
	rows, err := s.rq.ConsoleJobAllocations(ctx, id)
	if err != nil {
		return nil, s.internal("read job allocations", err)
	}
	if len(rows) == 0 {
		if _, err := s.rq.AdminGetJob(ctx, id); errors.Is(err, sql.ErrNoRows) {
			return nil, NotFound("There is no job %d.", id)
		} else if err != nil {
			return nil, s.internal("read job", err)
		}
	}
	out := make([]JobAllocation, len(rows))
	for i, r := range rows {
		a := JobAllocation{Machine: r.MachineName, Retired: r.Retired,
			Board:       geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)},
			AllocatedAt: timeAt(r.AllocatedAt)}
		if r.Cabinet != nil && r.Frame != nil && r.BoardNum != nil {
			a.Physical = &Physical{Cabinet: int(*r.Cabinet), Frame: int(*r.Frame), Board: int(*r.BoardNum)}
		}
		a.FreedAt = timePtr(r.FreedAt)
		out[i] = a
	}
	return out, nil
}

// JobLastSeen is when a live job's client last sent a command about it (the
// start of its keepalive clock); false when the job is not live.
func (s *Service) JobLastSeen(id int64) (time.Time, bool) {
	if s.world.Load().job(id) == nil {
		return time.Time{}, false
	}
	at := s.alive.touchedAt(id)
	return at, !at.IsZero()
}

// BMPWork is a BMP of a machine with its reachability and the work it has
// in hand.
type BMPWork struct {
	BMPState
	Boards     int        // boards in its frame
	OpenOps    int        // BMP operations not yet done
	OldestOp   *time.Time // when the oldest of them was requested
	FailingOps int        // open operations that failed at least once
}

// MachineBMPs lists the BMPs of a live machine in cabinet and frame order
// with their open operations.
func (s *Service) MachineBMPs(ctx context.Context, machine string) ([]BMPWork, error) {
	md, err := s.MachineDetail(ctx, machine)
	if err != nil {
		return nil, err
	}
	rows, err := s.rq.ConsoleOpenOpsPerBMP(ctx, machine)
	if err != nil {
		return nil, s.internal("count BMP operations", err)
	}
	ops := make(map[int64]db.ConsoleOpenOpsPerBMPRow, len(rows))
	for _, r := range rows {
		ops[r.BmpID] = r
	}
	boards := map[[2]int]int{}
	for _, b := range md.Boards {
		if b.Physical != nil {
			boards[[2]int{b.Physical.Cabinet, b.Physical.Frame}]++
		}
	}
	out := make([]BMPWork, len(md.BMPs))
	for i, b := range md.BMPs {
		w := BMPWork{BMPState: b, Boards: boards[[2]int{b.Cabinet, b.Frame}]}
		if r, ok := ops[b.ID]; ok {
			w.OpenOps, w.FailingOps = int(r.N), int(r.Failing)
			w.OldestOp = ptr(timeAt(r.Oldest))
		}
		out[i] = w
	}
	return out, nil
}

// Bounds of a utilisation history.
const (
	MaxUtilisationBuckets = 1000
	MinUtilisationStep    = time.Minute
)

// Utilisation is how much of a machine jobs held, now and over a past
// period in equal steps.
type Utilisation struct {
	Machine string
	Boards  int // boards not dead in the configuration: the capacity
	InUse   int // boards held by live jobs now
	From    time.Time
	Step    time.Duration
	// Buckets[i] is the mean fraction of Boards held by jobs between
	// From + i*Step and From + (i+1)*Step (the last one up to now, if now
	// falls in it).
	Buckets []float64
}

// MachineUtilisation measures the utilisation of a live machine now and in
// the last n steps of step, from the board allocation history of every
// incarnation of the machine (jobs forgotten by retain_destroyed are not
// counted). The last step is the one now falls in; steps start at whole
// multiples of step, so they stay put from one call to the next.
func (s *Service) MachineUtilisation(ctx context.Context, machine string, step time.Duration, n int) (*Utilisation, error) {
	if step < MinUtilisationStep {
		return nil, Invalid("the step must be at least %s, not %s", MinUtilisationStep, step)
	}
	if n < 1 || n > MaxUtilisationBuckets {
		return nil, Invalid("the number of steps must be 1 to %d, not %d", MaxUtilisationBuckets, n)
	}
	md, err := s.MachineDetail(ctx, machine)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	from := now.Truncate(step).Add(-time.Duration(n-1) * step)
	u := &Utilisation{Machine: machine, From: from, Step: step, Buckets: make([]float64, n)}
	for _, b := range md.Boards {
		if !b.Dead {
			u.Boards++
		}
		if b.JobID != nil {
			u.InUse++
		}
	}
	to := from.Add(time.Duration(n) * step)
	rows, err := s.rq.ConsoleAllocationsBetween(ctx, db.ConsoleAllocationsBetweenParams{
		Name: machine, FromAt: ptr(unix(from)), ToAt: unix(to)})
	if err != nil {
		return nil, s.internal("read board allocations", err)
	}
	if u.Boards == 0 {
		return u, nil
	}
	busy := make([]float64, n) // board-seconds held per bucket
	for _, r := range rows {
		end := unix(now)
		if r.FreedAt != nil {
			end = *r.FreedAt
		}
		addSpan(busy, unix(from), step.Seconds(), r.AllocatedAt, end)
	}
	for i := range busy {
		start := from.Add(time.Duration(i) * step)
		length := min(now.Sub(start), step).Seconds()
		if length > 0 {
			u.Buckets[i] = min(busy[i]/(length*float64(u.Boards)), 1)
		}
	}
	return u, nil
}

// addSpan adds the overlap of [a, b) with each bucket of length step
// starting at from to busy.
func addSpan(busy []float64, from, step, a, b float64) {
	first := max(int(math.Floor((a-from)/step)), 0)
	for i := first; i < len(busy); i++ {
		lo, hi := from+float64(i)*step, from+float64(i+1)*step
		if lo >= b {
			break
		}
		if overlap := min(hi, b) - max(lo, a); overlap > 0 {
			busy[i] += overlap
		}
	}
}

// keyEmergencyStopInfo stores the reason, time and operator of the last
// emergency stop (server_state), beside the flag itself.
const keyEmergencyStopInfo = "emergency_stop_info"

// StopInfo describes the emergency stop in force, or the last one.
type StopInfo struct {
	Stopped bool
	Reason  string    // "" when no stop was ever recorded
	At      time.Time // zero when unknown
	By      string    // who asked for it
}

type stopInfoJSON struct {
	Reason string  `json:"reason"`
	At     float64 `json:"at"`
	By     string  `json:"by"`
}

// noteEmergencyStop records why, when and by whom the emergency stop of
// this transaction was made.
func (t *tx) noteEmergencyStop(reason, by string) error {
	v, err := json.Marshal(stopInfoJSON{Reason: reason, At: unix(t.now), By: by})
	if err != nil {
		return t.dbErr("store emergency stop details", err)
	}
	if err := t.q.SetServerState(t.ctx, db.SetServerStateParams{Key: keyEmergencyStopInfo, Value: string(v)}); err != nil {
		return t.dbErr("store emergency stop details", err)
	}
	return nil
}

// EmergencyStopInfo says whether an emergency stop is in force and what is
// known of the last one.
func (s *Service) EmergencyStopInfo(ctx context.Context) (StopInfo, error) {
	info := StopInfo{Stopped: s.world.Load().stopped}
	v, err := s.rq.GetServerState(ctx, keyEmergencyStopInfo)
	if errors.Is(err, sql.ErrNoRows) {
		return info, nil
	}
	if err != nil {
		return info, s.internal("read emergency stop", err)
	}
	var j stopInfoJSON
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		s.log.Warn("emergency stop details unreadable", "value", v, "err", err)
		return info, nil
	}
	info.Reason, info.By = j.Reason, j.By
	if j.At > 0 {
		info.At = timeAt(j.At)
	}
	return info, nil
}
