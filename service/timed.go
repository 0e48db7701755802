package service

// Timed work: keepalive expiry, jobs older than max_job_duration, boards
// freed after their free delay or the power-off grace, and claims whose
// lease ran out. Tick does one round at the clock's current time without
// sleeping; Run calls it on a ticker.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Run performs timed work every Options.TickInterval until ctx is done.
// Errors of a round are logged (by the service, once); the loop goes on.
//
// While Run runs it also checkpoints the write-ahead log 4 times a second
// from a reader connection, so that commits rarely pay for a checkpoint
// (SQLite checkpoints inside the commit that fills the log; that commit
// then takes milliseconds). A larger log limit stays as a safety valve for
// bursts.
func (s *Service) Run(ctx context.Context) error {
	if s.tick <= 0 {
		return errors.New("service: Run needs a positive Options.TickInterval")
	}
	tk := time.NewTicker(s.tick)
	defer tk.Stop()
	ck := time.NewTicker(checkpointInterval)
	defer ck.Stop()
	s.setAutoCheckpoint(ctx, burstAutoCheckpoint)
	defer s.setAutoCheckpoint(context.WithoutCancel(ctx), defaultAutoCheckpoint)
	var checkpointErr error // logged when checkpoints start or stop failing
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
			_ = s.Tick(ctx) // failures are logged where they happen
		case <-ck.C:
			if s.closed.Load() {
				continue
			}
			err := s.db.Checkpoint(ctx)
			switch {
			case err != nil && checkpointErr == nil && ctx.Err() == nil:
				s.log.Warn("WAL checkpoints fail; the log grows until they work again", "err", err)
			case err == nil && checkpointErr != nil:
				s.log.Info("WAL checkpoints work again")
			}
			checkpointErr = err
		}
	}
}

// Checkpoint settings: SQLite's default log limit (pages) and the one used
// while Run checkpoints in the background.
const (
	defaultAutoCheckpoint = 1000
	burstAutoCheckpoint   = 8000
	checkpointInterval    = 250 * time.Millisecond
)

func (s *Service) setAutoCheckpoint(ctx context.Context, pages int) {
	s.wmu.Lock() // the writer connection may be inside a transaction otherwise
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return
	}
	if err := s.w.SetAutoCheckpoint(ctx, pages); err != nil && ctx.Err() == nil {
		s.log.Warn("cannot set the WAL auto-checkpoint", "err", err)
	}
}

// Tick performs one round of timed work at the clock's current time; tests
// and the trace replay call it instead of Run. Jobs not kept alive for
// their keepalive are destroyed ("Job timed out."), and so are jobs older
// than max_job_duration ("Job exceeded the maximum duration of 24h.");
// claims whose lease ran out are handed back; waiting boards whose free
// delay has passed, or whose power-off has not completed within the
// power-off grace, return to the pool. It writes nothing when there is
// nothing to do.
func (s *Service) Tick(ctx context.Context) error {
	w := s.world.Load()
	now := stamp(s.clock.Now())
	expired := s.expiredJobs(w, now)
	overdue := overdueJobs(w, now)
	lapsed := lapsedClaims(w, now)
	due := dueBoards(w, now)
	if len(expired) == 0 && len(overdue) == 0 && len(lapsed) == 0 && len(due) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		if err := t.destroyOverdue(overdue); err != nil {
			return err
		}
		for _, id := range expired {
			if j := t.job(id); j != nil && s.expired(j, t.now) {
				if err := t.destroyJob(id, ptr(ReasonTimedOut), "keepalive expired"); err != nil {
					return err
				}
			}
		}
		if err := t.endLapsedClaims(lapsed); err != nil {
			return err
		}
		for _, ref := range due {
			if err := t.freeIfDue(ref); err != nil {
				return err
			}
		}
		return nil
	})
}

// endLapsedClaims hands back the claims whose lease ran out: the worker
// that holds them is gone or stuck.
func (t *tx) endLapsedClaims(ids []int64) error {
	var ops []*op
	for _, id := range ids {
		if o := t.op(id); o != nil && o.lapsed(t.now) {
			ops = append(ops, o)
			t.logAt(slog.LevelWarn, "a claim of a BMP operation lapsed: its worker did not report it in time; it is handed out again",
				"op", o.id, "kind", o.kind, "board_id", o.boardID, "claimed_at", o.claimedAt, "lease_until", o.leaseUntil)
		}
	}
	return t.unclaim(ops)
}

// dueBoards lists waiting boards whose free delay has passed or whose
// power-off grace has run out.
func dueBoards(w *world, now time.Time) []boardRef {
	grace := w.settings.powerOffGrace
	var refs []boardRef
	for _, m := range w.machines {
		for i := range m.info {
			if d := m.dyn(i); d.waiting != 0 && boardDue(d, now, grace) {
				refs = append(refs, boardRef{machine: m.id, index: i})
			}
		}
	}
	return refs
}

func boardDue(d boardDyn, now time.Time, grace time.Duration) bool {
	if !d.freeAt.IsZero() {
		return !d.freeAt.After(now)
	}
	return grace > 0 && now.Sub(d.waitingSince) >= grace
}

// freeIfDue frees a waiting board whose time has come. The grace never
// frees a board while a worker holds an operation for it (a power-on must
// not land on a board given to someone else).
func (t *tx) freeIfDue(ref boardRef) error {
	m := t.machine(ref.machine)
	if m == nil {
		return nil
	}
	i := ref.index
	d := m.dyn(i)
	if d.waiting == 0 || !boardDue(d, t.now, t.currentSettings().powerOffGrace) {
		return nil
	}
	if d.freeAt.IsZero() {
		for _, o := range t.opsOfBoard(m.info[i].bmpID, m.info[i].id) {
			if o.inFlight(t.now) {
				return nil
			}
		}
		t.logAt(slog.LevelWarn, "board freed after the power-off grace: its power-off did not complete",
			"machine", m.name, "board", m.board(i).String())
	}
	return t.freeBoard(m, i)
}
