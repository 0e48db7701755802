// Package service is the one domain API of spallocd: every operation the
// v1 protocol server, the HTTP admin API, the BMP workers and the trace
// replay perform goes through it, each as one database transaction.
//
// It owns the job life cycle, the queues, keepalives, reconfiguration and the
// change feed. Pure rules live below it (geometry, allocator, config); it is
// the only importer of package db. It never opens a socket.
//
// Concurrency: one writer at a time (a mutex around the single writer
// connection); reads come from an in-memory mirror that changes only after a
// commit, or from the read pool. Keepalive clocks live in memory only. The
// open BMP operations are also indexed in memory, for the writer only
// (opindex.go), so that claims and completions need no queries.
package service

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/db"
)

// DefaultTickInterval is how often Run does timed work when Options does
// not say.
const DefaultTickInterval = 5 * time.Second

// settings are the server settings a configuration reload may change.
type settings struct {
	freeDelay time.Duration
	grace     time.Duration
	retain    int
}

// Service is the running domain layer over one database.
type Service struct {
	db    *db.DB
	wconn *sql.Conn   // the writer connection, held for the service's life (see writer.go)
	wq    *db.Queries // on wconn; used only under wmu
	rq    *db.Queries // on the read pool
	clock Clock
	log   *slog.Logger

	wmu        sync.Mutex    // the writer: one transaction at a time
	queueMu    sync.Mutex    // guards queued
	queued     []*writeCall  // calls of write waiting for the writer (group commit)
	writes     atomic.Uint64 // calls of write done (Stats)
	commits    atomic.Uint64 // write transactions committed (Stats)
	writeFails atomic.Uint64 // calls of write that failed with an internal error (Stats)
	closed     atomic.Bool   // set under wmu
	answerable int64         // destroyed jobs not forgotten; guarded by wmu
	settings   atomic.Pointer[settings]

	mirror  *mirror
	ops     *opIndex // open BMP operations; guarded by wmu
	feed    *feed
	version atomic.Uint64
	tick    time.Duration
}

// Open opens (or creates) the database and loads the service state from it.
// Every live job's keepalive clock starts afresh. Operations claimed by BMP
// workers of a previous run are handed out again.
func Open(ctx context.Context, opts Options) (*Service, error) {
	opts = withDefaults(opts)
	if opts.ColdStart {
		if err := removeDatabase(opts.DBPath); err != nil {
			return nil, err
		}
	}
	d, err := db.Open(ctx, opts.DBPath, db.Options{Synchronous: opts.Synchronous})
	if err != nil {
		return nil, Internal("cannot open the database", err)
	}
	s := &Service{db: d, clock: opts.Clock, log: opts.Logger, mirror: newMirror(), ops: newOpIndex(), feed: newFeed(), tick: opts.TickInterval}
	if err := s.prepare(ctx); err != nil {
		d.Close()
		return nil, err
	}
	s.settings.Store(&settings{freeDelay: opts.FreeDelay, grace: opts.PowerOffGrace, retain: opts.RetainDestroyed})
	if err := s.load(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	s.checkAtOpen(ctx)
	return s, nil
}

func withDefaults(opts Options) Options {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = DefaultTickInterval
	}
	return opts
}

// prepare takes the writer connection and compiles every query once for it
// and for the read pool.
func (s *Service) prepare(ctx context.Context) error {
	var err error
	if s.wconn, err = s.db.Write.Conn(ctx); err != nil {
		return Internal("cannot open the writer connection", err)
	}
	if s.wq, err = db.Prepare(ctx, s.wconn); err != nil {
		s.wconn.Close()
		return Internal("cannot prepare queries", err)
	}
	if s.rq, err = db.Prepare(ctx, s.db.Read); err != nil {
		s.wq.Close()
		s.wconn.Close()
		return Internal("cannot prepare queries", err)
	}
	return nil
}

func (s *Service) closeDB() error {
	s.rq.Close()
	s.wq.Close()
	s.wconn.Close()
	return s.db.Close()
}

// removeDatabase deletes the database file and its WAL companions (cold
// start).
func removeDatabase(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Internal("cannot remove the database for a cold start", err)
		}
	}
	return nil
}

// checkAtOpen runs the consistency check and logs what it finds.
func (s *Service) checkAtOpen(ctx context.Context) {
	problems, err := s.CheckConsistency(ctx)
	if err != nil {
		s.log.Error("consistency check failed", "err", err)
		return
	}
	for _, p := range problems {
		s.log.Warn("database inconsistency", "problem", p)
	}
}

// Close stops accepting operations and closes the database. Subscriptions
// stay open (their owners close them).
func (s *Service) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.closed.Store(true)
	return s.closeDB()
}

// Subscribe returns a subscription to the change feed. Publishing never
// blocks: a slow subscriber's pending changes coalesce.
func (s *Service) Subscribe() *Subscription { return s.feed.subscribe() }

// nextVersion returns a number never returned before (occupancy versions).
func (s *Service) nextVersion() uint64 { return s.version.Add(1) }

// now is the service clock as Unix seconds.
func (s *Service) now() float64 { return unixSeconds(s.clock.Now()) }

// Now is the service clock as Unix seconds (the time the job and board
// times are measured against).
func (s *Service) Now() float64 { return s.now() }
