package service

// Draining a machine: no new allocations on it, its running jobs continue,
// jobs queued on it wait ("machine drained: ..."), and list_machines still
// lists it. The drain is stored (machine_drains) in the transaction that
// makes it, keyed by the machine's name: it survives restarts and a change
// of the machine's layout, and ends when the machine is removed.

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/spalloc/spallocd/db"
)

// Drain says why, since when and by whom a machine is drained.
type Drain struct {
	Reason string
	At     time.Time
	By     string // the admin token's name
}

// DrainMachine drains a live machine with the operator's reason; draining
// a drained machine again replaces its reason (and who and when).
func (s *Service) DrainMachine(ctx context.Context, machine, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid("A reason is needed to drain a machine.")
	}
	return s.write(ctx, func(t *tx) error {
		m := t.machineNamed(machine)
		if m == nil {
			return noMachine(machine)
		}
		a := actorOf(t.ctx)
		d := &Drain{Reason: reason, At: t.now, By: a.who}
		err := t.q.SetDrain(t.ctx, db.SetDrainParams{Machine: m.name, Reason: d.Reason, DrainedAt: unix(d.At), DrainedBy: d.By})
		if err != nil {
			return t.dbErr("drain machine", err)
		}
		t.edit(m.id).drain = d
		t.change.machine(m.name)
		t.logAction(slog.LevelInfo, "operator drained machine", "machine", m.name, "reason", reason)
		return t.audit(ActionDrain, machineTarget(m.name), reason)
	})
}

// UndrainMachine lets a drained machine take allocations again (its queue
// is served in the same transaction); a machine that is not drained is
// left alone.
func (s *Service) UndrainMachine(ctx context.Context, machine string) error {
	return s.write(ctx, func(t *tx) error {
		m := t.machineNamed(machine)
		switch {
		case m == nil:
			return noMachine(machine)
		case m.drain == nil:
			return nil
		}
		if err := t.endDrain(m); err != nil {
			return err
		}
		t.logAction(slog.LevelInfo, "operator undrained machine", "machine", m.name)
		return t.audit(ActionUndrain, machineTarget(m.name), "")
	})
}

// endDrain removes m's drain, if any.
func (t *tx) endDrain(m *machine) error {
	if m.drain == nil {
		return nil
	}
	if err := t.q.DeleteDrain(t.ctx, m.name); err != nil {
		return t.dbErr("undrain machine", err)
	}
	t.edit(m.id).drain = nil
	t.change.machine(m.name)
	return nil
}

// loadDrains attaches the stored drains to the machines of their names.
func loadDrains(ctx context.Context, q *db.Queries, w *world) error {
	rows, err := q.ListDrains(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if m := w.machineNamed(r.Machine); m != nil {
			m.drain = &Drain{Reason: r.Reason, At: timeAt(r.DrainedAt), By: r.DrainedBy}
		}
	}
	return nil
}

// drainedReason is why a job waits on a drained machine.
func drainedReason(m *machine) string {
	return "machine drained: " + m.drain.Reason + " (" + m.name + ")"
}
