package service

// Operator writes: jobs destroyed, boards out of service and back, dead
// links, maintenance power, emergency stop and resume. Each is one
// transaction, is logged once, here, with who did it (WithActor), and is
// recorded in the audit log in the same transaction (admin_audit.go).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// EmergencyStopPrefix starts the destroy reason of jobs ended by an
// emergency stop.
const EmergencyStopPrefix = "Emergency stop: "

type actorKey struct{}

// actor is who acts through a context, and from where.
type actor struct{ who, from string }

// WithActor returns a context that says who acts through it (e.g. the
// operator a token stands for) and from where (e.g. a client address):
// operator actions are logged with both and recorded with who.
func WithActor(ctx context.Context, who, from string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor{who: who, from: from})
}

// actorOf is who acts through ctx (the unnamed token's name, "operator",
// when nobody said).
func actorOf(ctx context.Context) actor {
	a, _ := ctx.Value(actorKey{}).(actor)
	if a.who == "" {
		a.who = config.UnnamedTokenName
	}
	return a
}

// ActorName is who acts through ctx (WithActor): the admin token's name.
func ActorName(ctx context.Context) string { return actorOf(ctx).who }

// byOperator says who acted in a job's history: "by operator alice", or
// "by operator" for the unnamed token (whose name is "operator").
func (a actor) byOperator() string {
	if a.who == config.UnnamedTokenName {
		return "by operator"
	}
	return "by operator " + a.who
}

// logAction queues the log line of an operator action.
func (t *tx) logAction(level slog.Level, msg string, attrs ...any) {
	a := actorOf(t.ctx)
	by := []any{"by", a.who}
	if a.from != "" {
		by = append(by, "from", a.from)
	}
	t.logAt(level, msg, append(by, attrs...)...)
}

// adminBoard finds board b of the live machine called name inside a
// transaction.
func (t *tx) adminBoard(name string, b geometry.Board) (*machine, int, error) {
	m := t.machineNamed(name)
	i, err := boardOf(m, name, b)
	return m, i, err
}

// DestroyJobByOperator destroys a live job with the operator's reason. An
// unknown job is NotFound, a destroyed one a Conflict.
func (s *Service) DestroyJobByOperator(ctx context.Context, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid("A reason is needed to destroy a job.")
	}
	if s.world.Load().job(id) == nil {
		st, err := s.storedStatus(ctx, id)
		switch {
		case err != nil:
			return err
		case st.State == StateUnknown:
			return NotFound("There is no job %d.", id)
		}
	}
	return s.write(ctx, func(t *tx) error {
		j := t.job(id)
		if j == nil {
			return Conflict("Job %d is already destroyed.", id)
		}
		t.logAction(slog.LevelInfo, "operator destroyed job", "job", id, "owner", j.owner, "reason", reason)
		target := jobTarget(id)
		if m := t.machine(j.machine); m != nil {
			target.machine = m.name
		}
		if err := t.audit(ActionDestroyJob, target, reason); err != nil {
			return err
		}
		return t.destroyJob(id, &reason, "destroyed "+actorOf(t.ctx).byOperator())
	})
}

// SetBoardInService takes a board out of service (with a reason) or returns
// it. A job holding the board keeps it (TakeBoardOutOfService can end it).
func (s *Service) SetBoardInService(ctx context.Context, machine string, b geometry.Board, inService bool, reason string) error {
	if !inService {
		return s.TakeBoardOutOfService(ctx, machine, b, reason, false)
	}
	return s.write(ctx, func(t *tx) error { return t.returnToService(machine, b) })
}

// TakeBoardOutOfService takes a board out of service: no job is given it
// until it returns, also after a restart. A job holding it keeps it unless
// destroyJob is set; then the job is destroyed in the same transaction and
// the board is powered off like any released board.
func (s *Service) TakeBoardOutOfService(ctx context.Context, machine string, b geometry.Board, reason string, destroyJob bool) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid("A reason is needed to take a board out of service.")
	}
	return s.write(ctx, func(t *tx) error { return t.takeOutOfServiceByOperator(machine, b, reason, destroyJob) })
}

func (t *tx) takeOutOfServiceByOperator(machine string, b geometry.Board, reason string, destroyJob bool) error {
	m, i, err := t.adminBoard(machine, b)
	if err != nil {
		return err
	}
	a := actorOf(t.ctx)
	holder := m.dyn(i).job
	if err := t.audit(ActionBoardOutOfService, boardTarget(m.name, b, holder), reason); err != nil {
		return err
	}
	t.logAction(slog.LevelInfo, "operator took board out of service", "machine", m.name, "board", b.String(),
		"reason", reason, "job", holder, "job_destroyed", destroyJob && holder != 0)
	return t.setOutOfService(m, i, reason, a.who, destroyJob, "destroyed "+a.byOperator())
}

// setOutOfService takes board i of m out of service in the name of by (an
// admin token's name, or ServerActor); with destroyJob the job holding it
// is destroyed (why says by whom, for its history), else it keeps it.
func (t *tx) setOutOfService(m *machine, i int, reason, by string, destroyJob bool, why string) error {
	if holder := m.dyn(i).job; destroyJob && holder != 0 {
		r := fmt.Sprintf("Board %v of %s taken out of service: %s", m.board(i), m.name, reason)
		if err := t.destroyJob(holder, &r, why); err != nil {
			return err
		}
	}
	err := t.q.AdminSetOutOfService(t.ctx, db.AdminSetOutOfServiceParams{OutOfService: &reason,
		OutOfServiceAt: ptr(unix(t.now)), OutOfServiceBy: &by, ID: m.info[i].id})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	d := t.machine(m.id).dyn(i)
	d.oos = reason
	t.setBoard(m.id, i, d)
	t.change.machine(m.name)
	return t.rebuildModel(t.edit(m.id))
}

// returnToService puts a board back in the pool. A free board that is on
// (maintenance) is switched off first, so that the pool holds only boards
// that are off or being switched off.
func (t *tx) returnToService(machine string, b geometry.Board) error {
	m, i, err := t.adminBoard(machine, b)
	if err != nil {
		return err
	}
	d := m.dyn(i)
	if d.oos == "" {
		return nil
	}
	err = t.q.ReturnBoardToService(t.ctx, db.ReturnBoardToServiceParams{ReturnedAt: ptr(unix(t.now)), ID: m.info[i].id})
	if err != nil {
		return t.dbErr("return board to service", err)
	}
	if err := t.audit(ActionBoardInService, boardTarget(m.name, b, d.job), ""); err != nil {
		return err
	}
	d.oos = ""
	t.setBoard(m.id, i, d)
	if d.job == 0 && d.waiting == 0 {
		if err := t.switchOffIfNeeded(t.machine(m.id), i); err != nil {
			return err
		}
	}
	t.change.machine(m.name)
	t.logAction(slog.LevelInfo, "operator returned board to service", "machine", m.name, "board", b.String())
	return t.rebuildModel(t.edit(m.id))
}

// switchOffIfNeeded requests a power-off for a board that is on or has
// operations pending (a maintenance power-on may still land).
func (t *tx) switchOffIfNeeded(m *machine, i int) error {
	bi := m.info[i]
	if bi.bmpID == 0 {
		return nil
	}
	if !m.dyn(i).power && len(t.opsOfBoard(bi.bmpID, bi.id)) == 0 {
		return nil
	}
	return t.requestOps(m, []int{i}, 0, OpPowerOff, nil)
}

// SetLinkDead marks the link leaving b in direction l dead or alive for the
// allocator; it survives restarts (a configuration change of the machine's
// dead links replaces the configured ones and keeps the operator's).
// Marking alive clears the link in both directions, configured or not.
func (s *Service) SetLinkDead(ctx context.Context, machine string, b geometry.Board, l geometry.Link, dead bool) error {
	if !l.Valid() {
		return Invalid("link must be 0 to 5, not %d", int(l))
	}
	return s.write(ctx, func(t *tx) error { return t.setLinkDead(machine, b, l, dead) })
}

func (t *tx) setLinkDead(machine string, b geometry.Board, l geometry.Link, dead bool) error {
	m, i, err := t.adminBoard(machine, b)
	if err != nil {
		return err
	}
	to, _ := geometry.BoardDownLink(b, l, m.width, m.height)
	j, back := m.index(to), l.Opposite()
	listed := func(x geometry.Board, y geometry.Link) bool {
		for _, dl := range m.deadLinks {
			if dl.Board == x && dl.Link == y {
				return true
			}
		}
		return false
	}
	if dead == (listed(b, l) || listed(to, back)) {
		return nil // already so
	}
	if dead {
		err = t.q.InsertDeadLink(t.ctx, db.InsertDeadLinkParams{BoardID: m.info[i].id, Link: int64(l), Source: "operator"})
	} else {
		err = t.q.AdminDeleteDeadLink(t.ctx, db.AdminDeleteDeadLinkParams{BoardID: m.info[i].id, Link: int64(l)})
		if err == nil {
			err = t.q.AdminDeleteDeadLink(t.ctx, db.AdminDeleteDeadLinkParams{BoardID: m.info[j].id, Link: int64(back)})
		}
	}
	if err != nil {
		return t.dbErr("change dead link", err)
	}
	what := "alive"
	if dead {
		what = "dead"
	}
	target := boardTarget(m.name, b, 0)
	target.what = fmt.Sprintf("link %s of board %v of %s", l, b, m.name)
	if err := t.audit(ActionLink, target, what); err != nil {
		return err
	}
	mm := t.edit(m.id)
	if err := t.reloadDeadLinks(mm); err != nil {
		return err
	}
	t.change.machine(mm.name)
	t.logAction(slog.LevelInfo, "operator changed link", "machine", mm.name, "board", b.String(), "link", l.String(), "dead", dead)
	return t.rebuildModel(mm)
}

// PowerBoard switches a board that is in no job on or off for maintenance.
// Powering on needs the board out of service first: a board in the pool
// must be off (the consistency check says so), and nobody should be given
// a board an operator is working on.
func (s *Service) PowerBoard(ctx context.Context, machine string, b geometry.Board, on bool) error {
	return s.write(ctx, func(t *tx) error {
		m, i, err := t.adminBoard(machine, b)
		if err != nil {
			return err
		}
		info, d := m.info[i], m.dyn(i)
		switch {
		case d.job != 0:
			return Conflict("Board %v of %s is in job %d; its power follows the job.", b, m.name, d.job)
		case d.waiting != 0:
			return Conflict("Board %v of %s is being powered off after job %d.", b, m.name, d.waiting)
		case on && info.dead:
			return Conflict("Board %v of %s is dead in the configuration.", b, m.name)
		case info.bmpID == 0:
			return Conflict("Board %v of %s has no BMP to switch it.", b, m.name)
		case on && d.oos == "":
			return Conflict("Take board %v of %s out of service before powering it on for maintenance.", b, m.name)
		}
		kind := OpPowerOff
		if on {
			kind = OpPowerOn
		}
		if err := t.requestOps(m, []int{i}, 0, kind, nil); err != nil {
			return err
		}
		t.change.machine(m.name)
		t.logAction(slog.LevelInfo, "operator switched board power", "machine", m.name, "board", b.String(), "on", on)
		what := "off"
		if on {
			what = "on"
		}
		return t.audit(ActionBoardPower, boardTarget(m.name, b, 0), what)
	})
}

// EmergencyStop destroys every job (reason EmergencyStopPrefix + reason),
// powers every board off and refuses new jobs until Resume; the state is
// stored, so it survives a restart. Stopping again is harmless.
func (s *Service) EmergencyStop(ctx context.Context, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid("A reason is needed for an emergency stop.")
	}
	return s.write(ctx, func(t *tx) error {
		why := EmergencyStopPrefix + reason
		a := actorOf(t.ctx)
		jobs := t.liveJobIDs()
		for _, id := range jobs {
			if err := t.destroyJob(id, &why, "emergency stop "+a.byOperator()); err != nil {
				return err
			}
		}
		for _, m := range t.machines() {
			if err := t.switchOffMachine(m); err != nil {
				return err
			}
		}
		t.logAction(slog.LevelWarn, "emergency stop", "reason", reason, "jobs_destroyed", len(jobs))
		if err := t.audit(ActionEmergencyStop, serverTarget, reason); err != nil {
			return err
		}
		if err := t.noteEmergencyStop(reason, a.who); err != nil {
			return err
		}
		return t.setStopped(true)
	})
}

// switchOffMachine requests a power-off for every board that is on or has
// operations pending, except boards already waiting for theirs.
func (t *tx) switchOffMachine(m *machine) error {
	for i := range m.info {
		if t.machine(m.id).dyn(i).waiting != 0 {
			continue
		}
		if err := t.switchOffIfNeeded(t.machine(m.id), i); err != nil {
			return err
		}
	}
	return nil
}

// Resume ends an emergency stop; new jobs are accepted again.
func (s *Service) Resume(ctx context.Context) error {
	if !s.world.Load().stopped {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		if !t.base.stopped {
			return nil
		}
		t.logAction(slog.LevelWarn, "resumed after emergency stop")
		if err := t.audit(ActionResume, serverTarget, ""); err != nil {
			return err
		}
		return t.setStopped(false)
	})
}

// setStopped stores the emergency-stop flag and tells every dashboard.
func (t *tx) setStopped(stopped bool) error {
	var err error
	if stopped {
		err = t.q.SetServerState(t.ctx, db.SetServerStateParams{Key: keyEmergencyStop, Value: "1"})
	} else {
		err = t.q.DeleteServerState(t.ctx, keyEmergencyStop)
	}
	if err != nil {
		return t.dbErr("store emergency stop", err)
	}
	t.stopped = &stopped
	for _, m := range t.machines() {
		t.change.machine(m.name)
	}
	return nil
}
