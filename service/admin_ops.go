package service

// Operator writes: boards out of service and back, dead links, maintenance
// power, emergency stop and resume. Each is one transaction through the
// writer (Service.write), so it publishes what it changed on the change
// feed and ends by serving the queues like every other transaction.

import (
	"context"
	"fmt"
	"strings"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// EmergencyStopPrefix starts the destroy reason of jobs ended by an
// emergency stop.
const EmergencyStopPrefix = "Emergency stop: "

// adminBoard finds board b of the live machine called name inside a
// transaction.
func (t *tx) adminBoard(name string, b geometry.Board) (*machineState, int, error) {
	m := t.machineByName(name)
	if m == nil {
		return nil, 0, noMachine(name)
	}
	if !m.has(b) {
		return nil, 0, NotFound("Machine %q has no board %v.", name, b)
	}
	return m, m.index(b), nil
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
	if holder := m.dyn[i].job; destroyJob && holder != 0 {
		why := fmt.Sprintf("Board %v of %s taken out of service: %s", b, m.name, reason)
		if err := t.destroyJob(holder, &why, "destroyed by operator"); err != nil {
			return err
		}
	}
	mm := t.editMachine(m.id)
	err = t.q.AdminSetOutOfService(t.ctx, db.AdminSetOutOfServiceParams{OutOfService: &reason, OutOfServiceAt: &t.at, ID: mm.info[i].id})
	if err != nil {
		return t.dbErr("take board out of service", err)
	}
	d := &mm.dyn[i]
	d.oos = reason
	if d.job == 0 && d.waiting == 0 {
		mm.occ.Use[i] = allocator.Unavailable
	}
	t.change.machine(mm.name)
	t.logf("board taken out of service by operator", "machine", mm.name, "board", b.String(), "reason", reason, "job", d.job)
	return t.rebuildModel(mm)
}

// returnToService puts a board back in the pool. A free board that is on
// (maintenance) is switched off first, so that the pool holds only boards
// that are off or being switched off.
func (t *tx) returnToService(machine string, b geometry.Board) error {
	m, i, err := t.adminBoard(machine, b)
	if err != nil {
		return err
	}
	if m.dyn[i].oos == "" {
		return nil
	}
	mm := t.editMachine(m.id)
	if err := t.q.ReturnBoardToService(t.ctx, mm.info[i].id); err != nil {
		return t.dbErr("return board to service", err)
	}
	d := &mm.dyn[i]
	d.oos = ""
	if d.job == 0 && d.waiting == 0 {
		mm.occ.Use[i] = mm.idleUse(i) // unavailable while its BMP is unreachable
		if err := t.switchOffIfNeeded(mm, i); err != nil {
			return err
		}
	}
	t.change.machine(mm.name)
	t.logf("board returned to service by operator", "machine", mm.name, "board", b.String())
	return t.rebuildModel(mm)
}

// switchOffIfNeeded queues a power-off for a board that is on or has
// operations pending (a maintenance power-on may still land). Queuing an
// operation changes no machine state, so m need not be the tx's copy.
func (t *tx) switchOffIfNeeded(m *machineState, i int) error {
	if m.info[i].bmpID == 0 {
		return nil
	}
	busy, err := t.q.AdminBoardHasOpenOp(t.ctx, m.info[i].id)
	if err != nil {
		return t.dbErr("check board operations", err)
	}
	if !m.dyn[i].power && !busy {
		return nil
	}
	return t.addOp(m, i, 0, OpPowerOff)
}

// SetLinkDead marks the link leaving b in direction l dead or alive for the
// allocator; it survives restarts (a configuration change of the machine's
// dead links replaces the configured ones and keeps the operator's).
// Marking alive clears the link in both directions, configured or not.
func (s *Service) SetLinkDead(ctx context.Context, machine string, b geometry.Board, l geometry.Link, dead bool) error {
	if !l.Valid() {
		return Invalid("link must be 0 to 5, not %d", int(l))
	}
	return s.write(ctx, func(t *tx) error {
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
		mm := t.editMachine(m.id)
		if dead {
			err = t.q.InsertDeadLink(t.ctx, db.InsertDeadLinkParams{BoardID: mm.info[i].id, Link: int64(l), Source: "operator"})
		} else {
			err = t.q.AdminDeleteDeadLink(t.ctx, db.AdminDeleteDeadLinkParams{BoardID: mm.info[i].id, Link: int64(l)})
			if err == nil {
				err = t.q.AdminDeleteDeadLink(t.ctx, db.AdminDeleteDeadLinkParams{BoardID: mm.info[j].id, Link: int64(back)})
			}
		}
		if err != nil {
			return t.dbErr("change dead link", err)
		}
		if err := t.reloadDeadLinks(mm); err != nil {
			return err
		}
		t.change.machine(mm.name)
		t.logf("link changed by operator", "machine", mm.name, "board", b.String(), "link", l.String(), "dead", dead)
		return t.rebuildModel(mm)
	})
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
		info, d := m.info[i], m.dyn[i]
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
		mm := t.editMachine(m.id)
		if err := t.addOp(mm, i, 0, kind); err != nil {
			return err
		}
		t.change.machine(mm.name)
		t.logf("board power switched by operator", "machine", mm.name, "board", b.String(), "on", on)
		return nil
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
		for _, id := range t.liveJobIDs() {
			if err := t.destroyJob(id, &why, "emergency stop"); err != nil {
				return err
			}
		}
		for _, m := range t.machinesInOrder() {
			if err := t.switchOffMachine(m); err != nil {
				return err
			}
		}
		t.logf("emergency stop", "reason", reason)
		if err := t.noteEmergencyStop(reason, StopByOperator); err != nil {
			return err
		}
		return t.setStopped(true)
	})
}

// switchOffMachine queues a power-off for every board that is on or has
// operations pending, except boards already waiting for theirs.
func (t *tx) switchOffMachine(m *machineState) error {
	for i := range m.info {
		if m.dyn[i].waiting != 0 {
			continue
		}
		if err := t.switchOffIfNeeded(m, i); err != nil {
			return err
		}
	}
	return nil
}

// Resume ends an emergency stop; new jobs are accepted again.
func (s *Service) Resume(ctx context.Context) error {
	if !s.mirror.isStopped() {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		t.logf("resumed after emergency stop")
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
	for _, m := range t.machinesInOrder() {
		t.change.machine(m.name)
	}
	return nil
}
