package service

// Timed work: keepalive expiry and delayed freeing of boards. Tick does one
// round at the clock's current time without sleeping; Run calls it on a
// real ticker.

import (
	"context"
	"strconv"
	"time"
)

// Run performs timed work (keepalive expiry, delayed freeing, queue service)
// every interval until ctx is done. Errors of a round are logged; the loop
// goes on.
//
// While Run runs it also checkpoints the write-ahead log 4 times a second from
// a reader connection, so that commits rarely pay for a checkpoint (SQLite
// checkpoints inside the commit that fills the log; that commit then takes
// milliseconds). A larger log limit stays as a safety valve for bursts.
func (s *Service) Run(ctx context.Context) error {
	tk := time.NewTicker(s.tick)
	defer tk.Stop()
	ck := time.NewTicker(checkpointInterval)
	defer ck.Stop()
	s.setAutoCheckpoint(ctx, burstAutoCheckpoint)
	defer s.setAutoCheckpoint(context.WithoutCancel(ctx), defaultAutoCheckpoint)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
			if err := s.Tick(ctx); err != nil && KindOf(err) != KindUnavailable {
				s.log.Error("timed work failed", "err", err)
			}
		case <-ck.C:
			if !s.closed.Load() {
				s.checkpoint(ctx)
			}
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
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA wal_autocheckpoint="+strconv.Itoa(pages)); err != nil && ctx.Err() == nil {
		s.log.Warn("cannot set the WAL auto-checkpoint", "err", err)
	}
}

// checkpoint copies the log into the database without blocking the writer.
func (s *Service) checkpoint(ctx context.Context) {
	if _, err := s.db.Read.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
		s.log.Warn("WAL checkpoint failed", "err", err)
	}
}

// Tick performs one round of timed work at the clock's current time; tests
// and the trace replay call it instead of Run. Jobs not kept alive for
// their keepalive are destroyed ("Job timed out."); waiting boards whose
// free delay has passed, or whose power-off has not completed within the
// power-off grace, return to the pool. It writes nothing when there is
// nothing to do.
func (s *Service) Tick(ctx context.Context) error {
	now := s.clock.Now()
	expired := s.expiredJobs(now)
	due := s.dueBoards(unixSeconds(now))
	if len(expired) == 0 && len(due) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		for _, id := range expired {
			if j := t.job(id); j != nil && expiredAt(j, now) {
				if err := t.destroyJob(id, ptr(ReasonTimedOut), "keepalive expired"); err != nil {
					return err
				}
			}
		}
		for _, ref := range due {
			if err := t.freeIfDue(ref); err != nil {
				return err
			}
		}
		return nil
	})
}

func expiredAt(j *jobState, now time.Time) bool {
	if j.keepalive == nil {
		return false
	}
	idle := now.Sub(time.Unix(0, j.touch.at.Load()))
	return idle.Seconds() > *j.keepalive
}

func (s *Service) expiredJobs(now time.Time) []int64 {
	s.mirror.mu.RLock()
	defer s.mirror.mu.RUnlock()
	var ids []int64
	for id, j := range s.mirror.jobs {
		if expiredAt(j, now) {
			ids = append(ids, id)
		}
	}
	return ids
}

// dueBoards lists waiting boards whose free delay has passed or whose
// power-off grace has run out.
func (s *Service) dueBoards(at float64) []boardRef {
	grace := s.settings.Load().grace.Seconds()
	s.mirror.mu.RLock()
	defer s.mirror.mu.RUnlock()
	var refs []boardRef
	for _, m := range s.mirror.machines {
		for i, d := range m.dyn {
			if d.waiting != 0 && boardDue(d, at, grace) {
				refs = append(refs, boardRef{machine: m.id, index: i})
			}
		}
	}
	return refs
}

func boardDue(d boardDyn, at, grace float64) bool {
	if d.freeAt > 0 {
		return d.freeAt <= at
	}
	return grace > 0 && at-d.waitingSince >= grace
}

// freeIfDue frees a waiting board whose time has come. The grace never
// frees a board while an operation for it is in flight (a power-on must not
// land on a board given to someone else).
func (t *tx) freeIfDue(ref boardRef) error {
	m := t.machine(ref.machine)
	if m == nil {
		return nil
	}
	d := m.dyn[ref.index]
	if d.waiting == 0 || !boardDue(d, t.at, t.settings().grace.Seconds()) {
		return nil
	}
	if d.freeAt == 0 {
		if t.s.ops.hasClaimed(m.info[ref.index].id) {
			return nil
		}
		t.logf("board freed after the power-off grace", "machine", m.name, "board", m.board(ref.index).String())
	}
	return t.freeBoard(t.editMachine(m.id), ref.index)
}
