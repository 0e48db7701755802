package service

// Write transactions (doc.go, "Writes"). A write function runs once, on
// its caller's goroutine, holding the writer: it changes the database and
// copies of what it touches of the committed world; the commit publishes a
// new world built from the copies. A failure drops the copies.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
)

// tx is one write transaction in progress (or, with q nil, an update of
// memory alone: claims of BMP operations).
type tx struct {
	s    *Service
	ctx  context.Context
	q    *db.Queries
	now  time.Time
	base *world // the committed world it started from

	edited        map[int64]*machine   // machines changed in this transaction (copies)
	order         []*machine           // a new machine list (ApplyConfig), else nil
	retired       []int64              // machines retired in this transaction
	created       []int64              // machines created in this transaction
	queuesChanged map[int64]bool       // machines whose queue changed (writeQueues)
	reserved      map[int64]bool       // machines whose reservation changed (writeReservations)
	hints         map[int64]*serveHint // queue service's hints, published with the commit

	jobs  map[int64]*job   // new or changed live jobs (copies)
	ended map[int64]bool   // jobs destroyed
	born  map[int64]string // jobs created, with their client's address

	ops     map[int64]*bmpOps // operations of BMPs changed in this transaction (copies)
	opBMP   map[int64]int64   // operations added: id -> BMP
	opsDone map[int64]bool    // operations done or superseded

	stopped  *bool     // new emergency-stop flag
	settings *settings // new settings (ApplyConfig)

	change   changeSet
	logs     []logEntry
	destroys int   // jobs destroyed (retention runs once at the end)
	forgot   int64 // destroyed jobs forgotten (retention)
}

// logEntry is a log line emitted after the commit.
type logEntry struct {
	level slog.Level
	msg   string
	attrs []any
}

var errShuttingDown = Unavailable("The server is shutting down.")

// write runs fn as one transaction and publishes what it changed. Once
// started, a transaction runs to its end whatever happens to ctx, so that a
// client hanging up never leaves half an operation (transactions are
// short: no I/O but the database).
func (s *Service) write(ctx context.Context, fn func(t *tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writes.Add(1)
	if s.closed.Load() {
		return errShuttingDown
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.w.Begin(ctx); err != nil {
		return s.writeFailed(s.internal("begin transaction", err))
	}
	t := s.newTx(ctx, s.w.Queries)
	if err := s.runGuarded(t, fn); err != nil {
		s.rollback(ctx)
		if KindOf(err) == KindInternal {
			s.writeFailed(err)
		}
		return err
	}
	if err := s.w.Commit(ctx); err != nil {
		s.rollback(ctx)
		return s.writeFailed(s.internal("commit", err))
	}
	s.commits.Add(1)
	s.failedWrites.Store(0)
	s.publish(t)
	return nil
}

// writeValue is write for a function with a result.
func writeValue[T any](s *Service, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var v T
	err := s.write(ctx, func(t *tx) error {
		var err error
		v, err = fn(t)
		return err
	})
	return v, err
}

// update changes the operations' claims, which live in memory alone: the
// same copies and publication as write, without a database transaction
// and without serving the queues.
func (s *Service) update(fn func(t *tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return errShuttingDown
	}
	t := s.newTx(context.Background(), nil)
	if err := fn(t); err != nil {
		return err
	}
	if len(t.ops) > 0 || !t.change.empty() {
		s.publish(t)
	}
	return nil
}

// writeFailed counts a transaction that failed inside the database (Health).
func (s *Service) writeFailed(err error) error {
	s.writeFails.Add(1)
	s.failedWrites.Add(1)
	msg := err.Error()
	s.lastWriteErr.Store(&msg)
	return err
}

// runGuarded runs fn and the work every transaction ends with: serving the
// queues, the retention of destroyed jobs and writing the queues' net
// change. A panic in fn (a bug) becomes an internal error, so that it never
// leaves the writer connection inside a transaction.
func (s *Service) runGuarded(t *tx, fn func(t *tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.internal("write transaction", fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := t.serveQueues(); err != nil {
		return err
	}
	if err := t.applyRetention(); err != nil {
		return err
	}
	if err := t.writeReservations(); err != nil {
		return err
	}
	return t.writeQueues()
}

func (s *Service) newTx(ctx context.Context, q *db.Queries) *tx {
	return &tx{s: s, ctx: ctx, q: q, now: stamp(s.clock.Now()), base: s.world.Load(),
		edited: map[int64]*machine{}, queuesChanged: map[int64]bool{}, reserved: map[int64]bool{}, hints: map[int64]*serveHint{},
		jobs: map[int64]*job{}, ended: map[int64]bool{}, born: map[int64]string{},
		ops: map[int64]*bmpOps{}, opBMP: map[int64]int64{}, opsDone: map[int64]bool{}}
}

// publish makes the transaction's world the committed one, then updates
// the keepalive registry, logs, and tells subscribers what changed.
func (s *Service) publish(t *tx) {
	s.world.Store(t.result())
	for id, h := range t.hints {
		s.hints[id] = h
	}
	for _, id := range t.retired {
		delete(s.hints, id)
	}
	for id, host := range t.born {
		s.alive.add(id, t.now, host)
	}
	for id := range t.ended {
		s.alive.remove(id)
	}
	s.answerable += int64(t.destroys) - t.forgot
	for _, e := range t.logs {
		s.log.Log(context.Background(), e.level, e.msg, e.attrs...)
	}
	s.feed.publish(t.change.take())
}

// result builds the new world from the base and the transaction's copies.
func (t *tx) result() *world {
	w := *t.base
	switch {
	case t.order != nil:
		w.machines = make([]*machine, len(t.order))
		for k, m := range t.order {
			w.machines[k] = t.machine(m.id)
		}
		w.index = newMachineIndex(w.machines)
	case len(t.edited) > 0:
		w.machines = slices.Clone(w.machines)
		for k, m := range w.machines {
			if e := t.edited[m.id]; e != nil {
				w.machines[k] = e
			}
		}
	}
	w.jobs = w.jobs.with(t.jobs, t.ended)
	if len(t.ops) > 0 {
		w.ops = w.ops.with(t.ops, nil)
		w.opBMP = w.opBMP.with(t.opBMP, t.opsDone)
	}
	if t.stopped != nil {
		w.stopped = *t.stopped
	}
	if t.settings != nil {
		w.settings = *t.settings
	}
	w.derived = &derived{}
	return &w
}

// logf queues a log line (INFO) for after the commit.
func (t *tx) logf(msg string, attrs ...any) { t.logAt(slog.LevelInfo, msg, attrs...) }

// logAt queues a log line at a level for after the commit.
func (t *tx) logAt(level slog.Level, msg string, attrs ...any) {
	t.logs = append(t.logs, logEntry{level: level, msg: msg, attrs: attrs})
}

// dbErr wraps a query failure inside a transaction.
func (t *tx) dbErr(what string, err error) error { return t.s.internal(what, err) }

// ---- machines as the transaction sees them ----

// machines is the machine list as this transaction sees it.
func (t *tx) machines() []*machine {
	base := t.order
	if base == nil {
		base = t.base.machines
	}
	out := make([]*machine, len(base))
	for i, m := range base {
		out[i] = t.machine(m.id)
	}
	return out
}

// machine returns the transaction's view of a live machine, or nil.
func (t *tx) machine(id int64) *machine {
	if m, ok := t.edited[id]; ok {
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
	return t.base.machine(id)
}

// machineNamed finds a machine of the transaction's list by name.
func (t *tx) machineNamed(name string) *machine {
	for _, m := range t.machines() {
		if m.name == name {
			return m
		}
	}
	return nil
}

// edit returns the transaction's copy of a machine, copying it when first
// asked; nil for an unknown machine.
func (t *tx) edit(id int64) *machine {
	if m, ok := t.edited[id]; ok {
		return m
	}
	base := t.machine(id)
	if base == nil {
		return nil
	}
	m := base.copyForEdit()
	t.edited[id] = m
	return m
}

// addMachine records a machine created in this transaction.
func (t *tx) addMachine(m *machine) {
	t.edited[m.id] = m
	t.created = append(t.created, m.id)
}

// bumpGain marks a change of a machine's occupancy or model that may let a
// placement succeed that failed before (any but a free board given to a
// job): it invalidates the machine's hints.
func (t *tx) bumpGain(m *machine) { m.gain = t.s.gains.Add(1) }

// boardRef finds a board of a live machine by its id.
func (t *tx) boardRef(boardID int64) (boardRef, bool) {
	ref, ok := t.base.index.boardIDs[boardID]
	if ok && t.machine(ref.machine) == nil {
		return boardRef{}, false // its machine was retired in this transaction
	}
	return ref, ok
}

// setBoard changes the state of board i of a machine, and so its
// occupancy. It copies the chunk of board states it writes the first time.
func (t *tx) setBoard(id int64, i int, d boardDyn) {
	m := t.edit(id)
	c := i / boardChunk
	if base := t.base.machine(id); base != nil && m.boards.chunks[c] == base.boards.chunks[c] {
		cp := *m.boards.chunks[c]
		m.boards.chunks[c] = &cp
	}
	m.boards.chunks[c][i%boardChunk] = d
	t.refreshUse(m, i)
}

// refreshUse derives board i's occupancy from its state again (m is the
// transaction's copy).
func (t *tx) refreshUse(m *machine, i int) {
	u := t.boardUse(m, i)
	was := m.occ.Use[i]
	if was == u {
		return
	}
	m.occ.Use[i] = u
	if gainsRoom(was, u) {
		t.bumpGain(m)
	}
}

// gainsRoom reports whether a board's change of use could let a placement
// succeed that failed before. Giving a free board to a job cannot, nor can
// a single board's job ending (its board waits for its power-off, in a
// triad that single boards share either way); anything else might.
func gainsRoom(was, now allocator.BoardUse) bool {
	switch {
	case was == allocator.Free:
		return now != allocator.HeldBlock && now != allocator.HeldSingle
	case was == allocator.HeldSingle:
		return now != allocator.Waiting
	}
	return true
}

// ---- jobs as the transaction sees them ----

// job returns the live job as this transaction sees it, or nil.
func (t *tx) job(id int64) *job {
	if t.ended[id] {
		return nil
	}
	if j, ok := t.jobs[id]; ok {
		return j
	}
	return t.base.job(id)
}

// editJob returns the transaction's copy of a live job, or nil.
func (t *tx) editJob(id int64) *job {
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
	ids := make([]int64, 0, t.base.jobs.len()+len(t.jobs))
	t.base.jobs.each(func(id int64, _ *job) {
		if !t.ended[id] {
			ids = append(ids, id)
		}
	})
	for id := range t.jobs {
		if _, old := t.base.jobs.get(id); !old && !t.ended[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// endJob removes a job from the live set.
func (t *tx) endJob(id int64) {
	delete(t.jobs, id)
	delete(t.born, id)
	t.ended[id] = true
	t.destroys++
	t.change.end(id)
}

// ---- settings ----

// currentSettings are the server settings as this transaction sees them.
func (t *tx) currentSettings() settings {
	if t.settings != nil {
		return *t.settings
	}
	return t.base.settings
}

// applyRetention forgets the oldest destroyed jobs beyond the retention
// setting: they answer state 0 from then on.
func (t *tx) applyRetention() error {
	if retain := t.currentSettings().retain; t.destroys > 0 && retain != 0 {
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
