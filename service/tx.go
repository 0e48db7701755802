package service

// Write transactions. Every state change runs as one function inside
// Service.write: it holds the writer lock, opens a transaction on the single
// writer connection, lets the function change the database and copies of
// the in-memory state, commits, and only then publishes the copies and the
// change feed. A failed function or commit leaves memory untouched.

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
)

// tx is one write transaction in progress.
type tx struct {
	s   *Service
	ctx context.Context
	q   *db.Queries
	now time.Time
	at  float64 // now as Unix seconds

	machines      map[int64]*machineState // copies being edited
	owned         map[int64]uint8         // which parts of each copy are private
	queuesChanged map[int64]bool          // machines whose queue changed (flushQueues)
	order         []*machineState         // a new machine list (ApplyConfig), else nil
	jobs          map[int64]*jobState     // new or edited live jobs
	ended         map[int64]bool          // jobs destroyed in this transaction
	stopped       *bool                   // new emergency-stop flag, if changed
	newSet        *settings               // new settings (ApplyConfig), if changed
	retired       []int64                 // machines retired in this transaction
	created       []int64                 // machines created in this transaction

	change   changeSet
	logs     []logEntry
	undo     []func() // puts the operation index back if the transaction does not commit
	destroys int      // jobs destroyed (retention runs once at the end)
	forgot   int64    // destroyed jobs forgotten (retention)
}

// logEntry is a log line emitted after the commit.
type logEntry struct {
	msg   string
	attrs []any
}

// write runs fn as one transaction. Once started, a transaction runs to its
// end whatever happens to ctx, so that a client hanging up never leaves half
// an operation (transactions are short: no I/O but the database).
//
// Group commit: calls that arrive while another transaction holds the
// writer are queued, and the next holder runs all queued calls in one
// transaction, one after another, each as if alone (each ends with its own
// queue service and retention). One commit then serves many callers, which
// is what bounds job churn. No caller returns before its change has
// committed. If any call of a group fails, the group is rolled back and
// every call runs again in a transaction of its own, so that one failure
// never undoes another caller's change.
func (s *Service) write(ctx context.Context, fn func(t *tx) error) (err error) {
	defer func() {
		if err != nil && KindOf(err) == KindInternal {
			s.writeFails.Add(1)
		}
	}()
	call := &writeCall{fn: fn}
	s.queueMu.Lock()
	s.queued = append(s.queued, call)
	s.queueMu.Unlock()

	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer s.writes.Add(1)
	if call.ran {
		return call.err // a previous holder ran it in its group
	}
	s.queueMu.Lock()
	group := s.queued
	s.queued = nil
	s.queueMu.Unlock()
	s.runGroup(context.WithoutCancel(ctx), group)
	return call.err
}

// writeCall is one call of write waiting for (or done by) a group.
type writeCall struct {
	fn  func(t *tx) error
	err error
	ran bool // set under wmu
}

// runGroup runs a group of calls (the caller holds wmu).
func (s *Service) runGroup(ctx context.Context, group []*writeCall) {
	if len(group) > 1 {
		err := s.commit(ctx, func(t *tx) error {
			for _, c := range group {
				if err := s.runTx(t, c.fn); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil || errors.Is(err, errShuttingDown) {
			for _, c := range group {
				c.err, c.ran = err, true
			}
			return
		}
	}
	for _, c := range group {
		c.err, c.ran = s.commit(ctx, func(t *tx) error { return s.runTx(t, c.fn) }), true
	}
}

// commit runs fn in one transaction and publishes what it changed (the
// caller holds wmu).
func (s *Service) commit(ctx context.Context, fn func(t *tx) error) error {
	if s.closed.Load() {
		return errShuttingDown
	}
	if err := s.begin(ctx); err != nil {
		return s.internal("begin transaction", err)
	}
	t := s.newTx(ctx)
	if err := s.runGuarded(t, fn); err != nil {
		s.rollback(ctx)
		t.rollBack()
		return err
	}
	if err := s.commitSQL(ctx); err != nil {
		s.rollback(ctx)
		t.rollBack()
		return s.internal("commit", err)
	}
	s.commits.Add(1)
	s.publish(t)
	return nil
}

// runGuarded runs fn and writes the queues it changed. A panic in fn (a
// bug) becomes an internal error, so that it neither leaves the writer
// connection inside a transaction nor takes down the calls grouped with it
// (they are redone alone).
func (s *Service) runGuarded(t *tx, fn func(t *tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in a write transaction; rolled back", "panic", p, "stack", string(debug.Stack()))
			err = Internal("internal error", fmt.Errorf("panic: %v", p))
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	return t.flushQueues()
}

var errShuttingDown = Unavailable("The server is shutting down.")

func (s *Service) newTx(ctx context.Context) *tx {
	now := s.clock.Now()
	return &tx{s: s, ctx: ctx, q: s.wq, now: now, at: unixSeconds(now),
		machines: map[int64]*machineState{}, owned: map[int64]uint8{}, queuesChanged: map[int64]bool{}, jobs: map[int64]*jobState{}, ended: map[int64]bool{}}
}

// runTx runs fn and the work every transaction ends with: serving the
// queues and applying the retention of destroyed jobs.
func (s *Service) runTx(t *tx, fn func(t *tx) error) error {
	if err := fn(t); err != nil {
		return err
	}
	if err := t.serveQueues(); err != nil {
		return err
	}
	return t.applyRetention()
}

// internal logs err and returns a service error that hides it.
func (s *Service) internal(what string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	s.log.Error("database error", "op", what, "err", err)
	return Internal("internal error ("+what+")", err)
}

// dbErr wraps a query failure inside a transaction.
func (t *tx) dbErr(what string, err error) error { return t.s.internal(what, err) }

// publish swaps the transaction's copies into the mirror and tells
// subscribers what changed.
func (s *Service) publish(t *tx) {
	mr := s.mirror
	mr.mu.Lock()
	if t.order != nil {
		ms := make([]*machineState, len(t.order))
		for i, m := range t.order {
			ms[i] = t.machine(m.id)
		}
		mr.setMachines(ms)
	} else {
		for _, m := range t.machines {
			mr.replaceMachine(m)
		}
	}
	for id, j := range t.jobs {
		mr.jobs[id] = j
	}
	for id := range t.ended {
		delete(mr.jobs, id)
	}
	if t.stopped != nil {
		mr.stopped = *t.stopped
	}
	mr.mu.Unlock()
	if t.newSet != nil {
		s.settings.Store(t.newSet)
	}
	s.answerable += int64(t.destroys) - t.forgot
	for _, e := range t.logs {
		s.log.Info(e.msg, e.attrs...)
	}
	s.feed.publish(t.change.take())
}

// logf queues a log line for after the commit.
func (t *tx) logf(msg string, attrs ...any) {
	t.logs = append(t.logs, logEntry{msg: msg, attrs: attrs})
}

// ---- access to state inside a transaction ----

// machinesInOrder is the machine list as this transaction sees it.
func (t *tx) machinesInOrder() []*machineState {
	base := t.order
	if base == nil {
		base = t.s.mirror.machines // the writer lock keeps it stable
	}
	out := make([]*machineState, len(base))
	for i, m := range base {
		out[i] = t.machine(m.id)
	}
	return out
}

// machine returns the transaction's view of a machine, or nil.
func (t *tx) machine(id int64) *machineState {
	if m, ok := t.machines[id]; ok {
		return m
	}
	if t.order != nil {
		for _, m := range t.order {
			if m.id == id {
				return m
			}
		}
		return nil
	}
	return t.s.mirror.byID[id]
}

// machineByName finds a machine of the transaction's list by name.
func (t *tx) machineByName(name string) *machineState {
	for _, m := range t.machinesInOrder() {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Parts of a machine a transaction owns (has copied) and may change.
const (
	ownQueue  = 1 << iota // the queue
	ownBoards             // board states and occupancy
)

// edit returns the transaction's copy of a machine, owning at least the
// given parts; scalar fields (priority, tags, model, ...) may always be
// replaced on it. Published states are never changed.
func (t *tx) edit(id int64, parts uint8) *machineState {
	m, ok := t.machines[id]
	if !ok {
		base := t.machine(id)
		if base == nil {
			return nil
		}
		c := *base
		m = &c
		t.machines[id] = m
	}
	need := parts &^ t.owned[id]
	if need&ownQueue != 0 {
		m.queue = slices.Clone(m.queue)
	}
	if need&ownBoards != 0 {
		m.dyn = slices.Clone(m.dyn)
		m.occ = m.occ.Clone()
	}
	t.owned[id] |= parts
	return m
}

// editMachine returns a private copy of a machine whose boards, queue and
// fields may all change.
func (t *tx) editMachine(id int64) *machineState { return t.edit(id, ownQueue|ownBoards) }

// editQueue returns a private copy of a machine whose queue may change.
func (t *tx) editQueue(id int64) *machineState { return t.edit(id, ownQueue) }

// addMachine records a machine created in this transaction.
func (t *tx) addMachine(m *machineState) {
	t.machines[m.id] = m
	t.owned[m.id] = ownQueue | ownBoards
}

// bump marks a machine's occupancy or model as changed.
func (t *tx) bump(m *machineState) { m.version = t.s.nextVersion() }

// job returns the live job as this transaction sees it, or nil.
func (t *tx) job(id int64) *jobState {
	if t.ended[id] {
		return nil
	}
	if j, ok := t.jobs[id]; ok {
		return j
	}
	return t.s.mirror.jobs[id]
}

// editJob returns a private copy of a live job to change, or nil.
func (t *tx) editJob(id int64) *jobState {
	if j, ok := t.jobs[id]; ok && !t.ended[id] {
		return j
	}
	j := t.job(id)
	if j == nil {
		return nil
	}
	c := j.clone()
	t.jobs[id] = c
	return c
}

// liveJobIDs lists the live jobs as this transaction sees them, ascending.
func (t *tx) liveJobIDs() []int64 {
	ids := make([]int64, 0, len(t.s.mirror.jobs)+len(t.jobs))
	for id := range t.s.mirror.jobs {
		if !t.ended[id] {
			ids = append(ids, id)
		}
	}
	for id := range t.jobs {
		if _, old := t.s.mirror.jobs[id]; !old && !t.ended[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// endJob removes a job from the live set.
func (t *tx) endJob(id int64) {
	delete(t.jobs, id)
	t.ended[id] = true
	t.destroys++
	t.change.end(id)
}

// applyRetention forgets the oldest destroyed jobs beyond the retention
// setting (JOB-06): they answer state 0 from then on.
func (t *tx) applyRetention() error {
	if retain := t.settings().retain; t.destroys > 0 && retain != 0 {
		return t.forgetBeyond(retain)
	}
	return nil
}

// forgetBeyond keeps the newest retain destroyed jobs answerable (none for
// a negative value).
func (t *tx) forgetBeyond(retain int) error {
	excess := t.s.answerable + int64(t.destroys) - t.forgot - int64(max(retain, 0))
	if excess <= 0 {
		return nil
	}
	n, err := t.q.ForgetOldestDestroyed(t.ctx, excess)
	if err != nil {
		return t.dbErr("forget destroyed jobs", err)
	}
	t.forgot += n
	return nil
}

// settings are the server settings as this transaction sees them.
func (t *tx) settings() settings {
	if t.newSet != nil {
		return *t.newSet
	}
	return *t.s.settings.Load()
}

func unixSeconds(tm time.Time) float64 { return float64(tm.UnixNano()) / 1e9 }
