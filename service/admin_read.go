package service

// Operator reads behind the HTTP admin API, the dashboard and the metrics:
// board maps, jobs with their history, BMP operations, board history and
// reports, health and gauges. Live state comes from the committed world
// (what the protocol answers); what only the database keeps (times,
// history, errors, reports) from the read pool.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/geometry"
)

// defaultJobLimit and maxJobLimit bound one page of a list (jobs, audit
// entries).
const (
	defaultJobLimit = 100
	maxJobLimit     = 1000
)

// pageLimit returns the page size for a requested limit (0 or less: the
// default; at most maxJobLimit), or an error for a negative offset.
func pageLimit(limit, offset int) (int, error) {
	if offset < 0 {
		return 0, Invalid("offset must not be negative")
	}
	if limit <= 0 {
		return defaultJobLimit, nil
	}
	return min(limit, maxJobLimit), nil
}

// checkTimeRange refuses a time range that ends before it starts (a zero
// end is open).
func checkTimeRange(since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return Invalid("the time range ends (%s) before it starts (%s)",
			until.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
	return nil
}

// UnhealthyAfterFailedWrites is how many write transactions in a row must
// fail inside the database before Health says writes fail.
const UnhealthyAfterFailedWrites = 3

// noMachine is the error for an unknown machine name.
func noMachine(name string) error { return NotFound("There is no machine %q.", name) }

// boardOf finds board b of m, the machine called name (nil: none).
func boardOf(m *machine, name string, b geometry.Board) (int, error) {
	if m == nil {
		return 0, noMachine(name)
	}
	if !m.has(b) || m.absent(m.index(b)) {
		return 0, NotFound("Machine %q has no board %v.", name, b)
	}
	return m.index(b), nil
}

// MachineDetail returns a live machine with its full board map.
func (s *Service) MachineDetail(ctx context.Context, name string) (*MachineDetail, error) {
	w := s.world.Load()
	m := w.machineNamed(name)
	if m == nil {
		return nil, noMachine(name)
	}
	rows, err := s.rq.AdminBoardNotes(ctx, m.id)
	if err != nil {
		return nil, s.internal("read boards", err)
	}
	reports, err := s.reportsPerBoard(ctx, m.id)
	if err != nil {
		return nil, err
	}
	notes := make(map[int64]db.AdminBoardNotesRow, len(rows))
	for _, r := range rows {
		notes[r.ID] = r
	}
	ops := openOpsPerBoard(w, m)
	md := &MachineDetail{MachineSummary: machineSummary(m), Priority: m.priority, QueueLen: len(m.queue),
		Boards: make([]BoardInfo, 0, len(m.info))}
	for _, b := range m.bmps {
		md.BMPs = append(md.BMPs, bmpStateOf(m, b))
	}
	for i := range m.info {
		if !m.absent(i) {
			md.Boards = append(md.Boards, boardInfoOf(m, i, notes[m.info[i].id], ops, reports))
		}
	}
	return md, nil
}

// openOpsPerBoard counts the open BMP operations of each board of a
// machine, by board id.
func openOpsPerBoard(w *world, m *machine) map[int64]int {
	out := map[int64]int{}
	for _, b := range m.bmps {
		if ops, ok := w.ops.get(b.id); ok {
			for _, o := range ops.ops {
				out[o.boardID]++
			}
		}
	}
	return out
}

// reportsPerBoard counts the problem reports of each board of a machine,
// by board id.
func (s *Service) reportsPerBoard(ctx context.Context, machineID int64) (map[int64]int, error) {
	rows, err := s.rq.AdminReportsPerBoard(ctx, machineID)
	if err != nil {
		return nil, s.internal("count board reports", err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		if r.BoardID != nil {
			out[*r.BoardID] = int(r.N)
		}
	}
	return out, nil
}

// boardInfoOf is board i of m: live state from the world, times and errors
// from its row.
func boardInfoOf(m *machine, i int, row db.AdminBoardNotesRow, ops, reports map[int64]int) BoardInfo {
	info, d := m.info[i], m.dyn(i)
	bi := BoardInfo{Board: m.board(i), IP: info.ip, Dead: info.dead, Power: d.power,
		PowerChangedAt: timePtr(row.PowerChangedAt), LastError: row.LastError,
		PendingOps: ops[info.id], Reports: reports[info.id], BMPUnreachable: m.bmpDown(i)}
	if info.hasPos {
		p := info.phys
		bi.Physical = &p
	}
	if d.oos != "" {
		bi.OutOfService = ptr(d.oos)
		bi.OutOfServiceAt, bi.OutOfServiceBy = timePtr(row.OutOfServiceAt), row.OutOfServiceBy
	}
	if d.job != 0 {
		bi.JobID = ptr(d.job)
	}
	if d.waiting != 0 {
		bi.WaitingJobID = ptr(d.waiting)
	}
	return bi
}

func bmpStateOf(m *machine, b bmpInfo) BMPState {
	st := BMPState{BMPEndpoint: BMPEndpoint{ID: b.id, Machine: m.name, Cabinet: b.cabinet, Frame: b.frame, Address: b.address},
		Unreachable: b.unreachable}
	if b.unreachable {
		st.UnreachableSince = ptr(b.since)
	}
	if b.lastErr != "" {
		st.LastError = ptr(b.lastErr)
	}
	return st
}

// stateMask selects job states for AdminListJobs: bit n is state n.
func stateMask(states []JobState) int64 {
	if len(states) == 0 {
		return 1<<StateQueued | 1<<StatePower | 1<<StateReady | 1<<StateDestroyed
	}
	var mask int64
	for _, st := range states {
		mask |= 1 << st
	}
	return mask
}

// orNil is nil for "" (a filter not given), else s.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Jobs lists jobs matching f, newest first, with the total number of
// matches before paging. A machine filter matches jobs allocated on the
// machine and jobs queued on it. Queued jobs say why they wait; pending
// operations and history are left out (JobDetail has them). It is
// QueryJobs without a time range.
func (s *Service) Jobs(ctx context.Context, f JobFilter) ([]JobDetail, int, error) {
	return s.QueryJobs(ctx, JobQuery{JobFilter: f})
}

// JobDetail returns one job with its boards, pending operations, history
// and, while queued, why it waits. Unknown and forgotten jobs are NotFound.
func (s *Service) JobDetail(ctx context.Context, id int64) (*JobDetail, error) {
	r, err := s.rq.AdminGetJob(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, NotFound("There is no job %d.", id)
	}
	if err != nil {
		return nil, s.internal("read job", err)
	}
	d := s.jobDetail(s.world.Load(), r)
	if d.PendingOps, err = s.openOps(ctx, id); err != nil {
		return nil, err
	}
	events, err := s.rq.AdminJobEvents(ctx, id)
	if err != nil {
		return nil, s.internal("read job history", err)
	}
	d.History = make([]JobEvent, len(events))
	for i, e := range events {
		d.History[i] = JobEvent{At: timeAt(e.At), State: JobState(e.State), Power: boolPtr(e.Power), Machine: e.MachineName, Detail: derefOr(e.Detail, "")}
	}
	return &d, nil
}

func boolPtr(p *int64) *bool {
	if p == nil {
		return nil
	}
	b := *p != 0
	return &b
}

// jobDetail combines a job's row with its live state, if it is live: the
// world is what the protocol answers, the row has the times.
func (s *Service) jobDetail(w *world, r db.AdminGetJobRow) JobDetail {
	d := JobDetail{
		JobSummary: JobSummary{ID: r.ID, Owner: r.Owner, StartTime: timeAt(r.CreatedAt), Keepalive: durationPtr(r.Keepalive),
			State: JobState(r.State), Power: boolPtr(r.Power), Args: json.RawMessage(r.Args),
			Kwargs: json.RawMessage(r.Kwargs), MachineName: r.MachineName, KeepaliveHost: derefOr(r.KeepaliveHost, "")},
		Reason: r.DestroyReason, CreatedAt: timeAt(r.CreatedAt), AllocatedAt: timePtr(r.AllocatedAt),
		ReadyAt: timePtr(r.ReadyAt), DestroyedAt: timePtr(r.DestroyedAt),
	}
	j := w.job(r.ID)
	if j == nil {
		return d
	}
	d.JobSummary = s.summary(j, w.machineNames())
	d.DurationExpiresAt = durationExpiry(j.createdAt, w.settings.limits)
	if j.hasBoards() {
		if m := w.machine(j.machine); m != nil {
			d.MachineInfo = machineInfo(j, m)
		}
	}
	if j.state == StateQueued {
		d.Waiting = s.waitReason(w, j)
	}
	return d
}

// openOps lists open BMP operations, of one job or (job 0) of all, with
// their claims.
func (s *Service) openOps(ctx context.Context, job int64) ([]PendingOp, error) {
	rows, err := s.rq.AdminOpenOps(ctx, job)
	if err != nil {
		return nil, s.internal("list BMP operations", err)
	}
	w := s.world.Load()
	out := make([]PendingOp, len(rows))
	for i, r := range rows {
		p := PendingOp{ID: r.ID, Machine: r.MachineName, Cabinet: int(r.Cabinet), Frame: int(r.Frame),
			Board: geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)}, BoardNum: intOf(r.BoardNum),
			JobID: r.JobID, Kind: OpKind(r.Op), CreatedAt: timeAt(r.CreatedAt),
			Attempts: int(r.Attempts), LastError: r.LastError}
		if r.Links != nil {
			p.Links = linksOf(*r.Links)
			p.Link = &p.Links[0]
		}
		addClaim(w, &p)
		out[i] = p
	}
	return out, nil
}

// addClaim fills in whether a worker has the operation in hand now; one in
// hand is in its next attempt.
func addClaim(w *world, p *PendingOp) {
	bmpID, ok := w.opBMP.get(p.ID)
	if !ok {
		return
	}
	ops, _ := w.ops.get(bmpID)
	k, found := searchOp(ops.ops, p.ID)
	if !found || ops.ops[k].claimedAt.IsZero() {
		return
	}
	o := ops.ops[k]
	p.ClaimedAt, p.LeaseUntil = ptr(o.claimedAt), ptr(o.leaseUntil)
	p.Attempts++
}

// PendingOps lists the open BMP operations in the order they were requested.
func (s *Service) PendingOps(ctx context.Context) ([]PendingOp, error) { return s.openOps(ctx, 0) }

// BoardHistory lists the allocations of a board, newest first, over every
// incarnation of the machine (a re-created machine keeps its history).
func (s *Service) BoardHistory(ctx context.Context, machine string, b geometry.Board) ([]BoardAllocation, error) {
	if _, err := boardOf(s.world.Load().machineNamed(machine), machine, b); err != nil {
		return nil, err
	}
	rows, err := s.rq.AdminBoardHistory(ctx, db.AdminBoardHistoryParams{Machine: machine, X: int64(b.X), Y: int64(b.Y), Z: int64(b.Z)})
	if err != nil {
		return nil, s.internal("read board history", err)
	}
	out := make([]BoardAllocation, len(rows))
	for i, r := range rows {
		out[i] = BoardAllocation{JobID: r.JobID, Owner: r.Owner, AllocatedAt: timeAt(r.AllocatedAt), FreedAt: timePtr(r.FreedAt)}
	}
	return out, nil
}

// BoardReports lists the problem reports filed against a board, newest first.
func (s *Service) BoardReports(ctx context.Context, machine string, b geometry.Board) ([]BoardReport, error) {
	if _, err := boardOf(s.world.Load().machineNamed(machine), machine, b); err != nil {
		return nil, err
	}
	rows, err := s.rq.AdminBoardReports(ctx, db.AdminBoardReportsParams{Machine: machine, X: int64(b.X), Y: int64(b.Y), Z: int64(b.Z)})
	if err != nil {
		return nil, s.internal("read board reports", err)
	}
	out := make([]BoardReport, len(rows))
	for i, r := range rows {
		out[i] = BoardReport{ID: r.ID, IP: r.Ip, JobID: r.JobID, ChipX: intPtr(r.ChipX), ChipY: intPtr(r.ChipY),
			Core: intPtr(r.Core), Description: r.Description, Reporter: derefOr(r.Reporter, ""), ReportedAt: timeAt(r.ReportedAt)}
	}
	return out, nil
}

func intPtr(p *int64) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// Health reports whether the database answers, whether writes commit, and
// whether an emergency stop is in force.
func (s *Service) Health(ctx context.Context) Health {
	_, err := s.rq.AdminPing(ctx)
	if err != nil {
		s.log.Warn("health check: database does not answer", "err", err)
	}
	failed := s.failedWrites.Load()
	h := Health{DatabaseOK: err == nil, WritesOK: failed < UnhealthyAfterFailedWrites, FailedWrites: int(failed),
		EmergencyStop: s.world.Load().stopped}
	if p := s.lastWriteErr.Load(); p != nil && failed > 0 {
		h.LastWriteErr = *p
	}
	return h
}

// boardStates lists every board state, so that gauges exist with 0.
var boardStates = []string{BoardFree, BoardJob, BoardWaiting, BoardPowering, BoardOutOfService, BoardUnreachable, BoardDead}

// Stats returns the gauges of /metrics.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	w := s.world.Load()
	st := Stats{JobsByState: map[JobState]int{}, BoardsByState: map[string]map[string]int{},
		QueueByMachine: map[string]int{}, PoweredBoards: map[string]int{}, Drained: map[string]bool{}, EmergencyStop: w.stopped,
		PendingBMPOps: w.opBMP.len(), WriteCalls: s.writes.Load(), WriteTransactions: s.commits.Load(),
		WriteFailures: s.writeFails.Load()}
	rows, err := s.rq.AdminJobsByState(ctx)
	if err != nil {
		return st, s.internal("count jobs", err)
	}
	for _, r := range rows {
		st.JobsByState[JobState(r.State)] = int(r.N)
	}
	for _, m := range w.machines {
		ops := openOpsPerBoard(w, m)
		counts := make(map[string]int, len(boardStates))
		for _, name := range boardStates {
			counts[name] = 0
		}
		powered := 0
		for i := range m.info {
			if m.absent(i) {
				continue
			}
			counts[boardInfoOf(m, i, db.AdminBoardNotesRow{}, ops, nil).State()]++
			if m.dyn(i).power {
				powered++
			}
		}
		st.BoardsByState[m.name] = counts
		st.PoweredBoards[m.name] = powered
		st.QueueByMachine[m.name] = len(m.queue)
		st.Drained[m.name] = m.drain != nil
	}
	return st, nil
}
