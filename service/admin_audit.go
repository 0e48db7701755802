package service

// Who did what: the audit log. Every operator change records, in its own
// transaction, who made it (the admin token's name, WithActor), from where,
// what it did to which target, and why; a board the server takes out of
// service by itself (problem reports) is recorded as done by "server".

import (
	"context"
	"fmt"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// Audit actions.
const (
	ActionDestroyJob        = "destroy_job"
	ActionBoardOutOfService = "board_out_of_service"
	ActionBoardInService    = "board_in_service"
	ActionBoardPower        = "board_power"
	ActionLink              = "link"
	ActionEmergencyStop     = "emergency_stop"
	ActionResume            = "resume"
	ActionDrain             = "drain"
	ActionUndrain           = "undrain"
)

// ServerActor is who the audit log names for what the server does by
// itself.
const ServerActor = config.ServerActorName

// AuditEntry is one change in the audit log.
type AuditEntry struct {
	ID      int64
	At      time.Time
	By      string // the admin token's name, or ServerActor
	From    string // the client's address ("" when unknown)
	Action  string
	Target  string // what it acted on, in words
	Machine *string
	JobID   *int64
	Board   *geometry.Board
	Reason  *string
}

// AuditQuery selects audit entries; zero values mean "any". Board needs
// Machine.
type AuditQuery struct {
	Since, Until time.Time
	By           string
	Machine      string
	Action       string
	JobID        int64
	Board        *geometry.Board
	Limit        int // 0 = defaultJobLimit
	Offset       int
}

// Audit lists the audit entries matching q, newest first, with the number
// of matches before paging.
func (s *Service) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, int, error) {
	var err error
	if q.Limit, err = pageLimit(q.Limit, q.Offset); err != nil {
		return nil, 0, err
	}
	if q.Board != nil && q.Machine == "" {
		return nil, 0, Invalid("a board filter needs the machine the board is on")
	}
	if err := checkTimeRange(q.Since, q.Until); err != nil {
		return nil, 0, err
	}
	p := db.ListAuditEntriesParams{SinceAt: unixOrNil(q.Since), UntilAt: unixOrNil(q.Until), Actor: orNil(q.By),
		Machine: orNil(q.Machine), Action: orNil(q.Action), Lim: int64(q.Limit), Off: int64(q.Offset)}
	if q.JobID != 0 {
		p.JobID = q.JobID
	}
	if b := q.Board; b != nil {
		p.BoardX, p.BoardY, p.BoardZ = int64(b.X), ptr(int64(b.Y)), ptr(int64(b.Z))
	}
	total, err := s.rq.CountAuditEntries(ctx, db.CountAuditEntriesParams{SinceAt: p.SinceAt, UntilAt: p.UntilAt,
		Actor: p.Actor, Machine: p.Machine, JobID: p.JobID, Action: p.Action, BoardX: p.BoardX, BoardY: p.BoardY, BoardZ: p.BoardZ})
	if err != nil {
		return nil, 0, s.internal("count audit entries", err)
	}
	rows, err := s.rq.ListAuditEntries(ctx, p)
	if err != nil {
		return nil, 0, s.internal("list audit entries", err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = auditEntryOf(r)
	}
	return out, int(total), nil
}

func auditEntryOf(r db.AuditLog) AuditEntry {
	e := AuditEntry{ID: r.ID, At: timeAt(r.At), By: r.Actor, From: derefOr(r.FromAddr, ""), Action: r.Action,
		Target: r.Target, Machine: r.Machine, JobID: r.JobID, Reason: r.Reason}
	if r.BoardX != nil && r.BoardY != nil && r.BoardZ != nil {
		e.Board = &geometry.Board{X: int(*r.BoardX), Y: int(*r.BoardY), Z: int(*r.BoardZ)}
	}
	return e
}

// auditTarget is what an action acted on.
type auditTarget struct {
	what    string
	machine string          // "" = none
	job     int64           // 0 = none
	board   *geometry.Board // with machine
}

func jobTarget(id int64) auditTarget { return auditTarget{what: fmt.Sprintf("job %d", id), job: id} }

func machineTarget(name string) auditTarget {
	return auditTarget{what: "machine " + name, machine: name}
}

// boardTarget is board b of machine m, with the job holding it (0: none).
func boardTarget(m string, b geometry.Board, job int64) auditTarget {
	return auditTarget{what: fmt.Sprintf("board %v of %s", b, m), machine: m, board: &b, job: job}
}

// serverTarget is the whole server (emergency stop, resume).
var serverTarget = auditTarget{what: "server"}

// audit records an action of the actor of the transaction's context.
func (t *tx) audit(action string, target auditTarget, reason string) error {
	return t.auditAs(actorOf(t.ctx), action, target, reason)
}

// auditAs records an action of a.
func (t *tx) auditAs(a actor, action string, target auditTarget, reason string) error {
	p := db.InsertAuditEntryParams{At: unix(t.now), Actor: a.who, FromAddr: strPtr(a.from), Action: action,
		Target: target.what, Machine: strPtr(target.machine), JobID: jobRef(target.job), Reason: strPtr(reason)}
	if b := target.board; b != nil {
		p.BoardX, p.BoardY, p.BoardZ = ptr(int64(b.X)), ptr(int64(b.Y)), ptr(int64(b.Z))
	}
	if err := t.q.InsertAuditEntry(t.ctx, p); err != nil {
		return t.dbErr("record audit entry", err)
	}
	return nil
}
