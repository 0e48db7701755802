package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/db"
)

// Service is the running domain layer over one database.
type Service struct {
	db    *db.DB
	w     *db.Writer  // the writer connection, held for the service's life; used only under wmu
	rq    *db.Queries // on the read pool
	clock Clock
	log   *slog.Logger
	tick  time.Duration

	wmu        sync.Mutex            // the writer (doc.go, "Locks")
	closed     atomic.Bool           // set under wmu
	answerable int64                 // destroyed jobs not forgotten; under wmu
	hints      map[int64]*serveHint  // machine id -> what queue service knows fails; under wmu
	gains      atomic.Uint64         // stamps of machines' gains of room, never reused
	world      atomic.Pointer[world] // the committed state
	alive      keepalives            // keepalive clocks
	feed       *feed

	writes       atomic.Uint64 // write calls (Stats)
	commits      atomic.Uint64 // write transactions committed (Stats)
	writeFails   atomic.Uint64 // write calls failed with an internal error (Stats)
	failedWrites atomic.Int64  // write transactions failed in a row inside the database (Health)
	lastWriteErr atomic.Pointer[string]
}

// Open opens (or creates) the database and loads the service state from it.
// Every live job's keepalive clock starts afresh. Operations claimed by BMP
// workers of a previous run are handed out again (claims are not stored).
// The server settings come with ApplyConfig.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d, err := db.Open(ctx, opts.DBPath, db.Options{Synchronous: opts.Synchronous})
	if err != nil {
		return nil, Internal("cannot open the database", err)
	}
	s := &Service{db: d, clock: opts.Clock, log: opts.Logger, tick: opts.TickInterval,
		hints: map[int64]*serveHint{}, feed: newFeed()}
	s.world.Store(emptyWorld())
	if err := s.prepare(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.releaseClaimsOfLastRun(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	s.checkAtOpen(ctx)
	return s, nil
}

// prepare takes the writer connection and compiles every query once for it
// and for the read pool.
func (s *Service) prepare(ctx context.Context) error {
	var err error
	if s.w, err = s.db.OpenWriter(ctx); err != nil {
		return Internal("cannot open the writer connection", err)
	}
	if s.rq, err = db.Prepare(ctx, s.db.Read); err != nil {
		s.w.Close()
		return Internal("cannot prepare queries", err)
	}
	return nil
}

func (s *Service) closeDB() error {
	s.rq.Close()
	s.w.Close()
	return s.db.Close()
}

// checkAtOpen runs the consistency check and logs what it finds.
func (s *Service) checkAtOpen(ctx context.Context) {
	problems, err := s.CheckConsistency(ctx)
	if err != nil {
		return // logged by the check
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

// Now is the service's clock: the time job and board times are measured
// against.
func (s *Service) Now() time.Time { return stamp(s.clock.Now()) }

// Subscribe returns a subscription to the change feed. Publishing never
// blocks: a slow subscriber's pending changes coalesce.
func (s *Service) Subscribe() *Subscription { return s.feed.subscribe() }

// internal logs err and returns a service error that hides it. Every
// internal error the service returns went through here (or was logged
// where it was made): transports do not log them again (Logged).
func (s *Service) internal(what string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	s.log.Error("internal error", "op", what, "err", err)
	return Internal("internal error ("+what+")", err)
}

// ---- the writer connection (db.Writer; everything that uses it holds wmu) ----

// rollback ends the write transaction without changes; a failure leaves
// the connection unusable for writes, so it is logged.
func (s *Service) rollback(ctx context.Context) {
	if err := s.w.Rollback(ctx); err != nil {
		s.log.Error("database rollback failed", "err", err)
	}
}
