package service

// Hooks for the external tests of this package.

import (
	"context"
	"strconv"
)

// HoldWriter takes the writer as a long transaction would, so that a test
// can make calls wait behind it; release lets them run.
func (s *Service) HoldWriter() (release func()) {
	s.wmu.Lock()
	return s.wmu.Unlock
}

// WriteCall runs fn as a write call that changes nothing itself (fn may
// panic, to stand for a bug).
func (s *Service) WriteCall(ctx context.Context, fn func()) error {
	return s.write(ctx, func(*tx) error { fn(); return nil })
}

// LimitDatabasePages caps the database file at n pages for the writer
// connection (SQLite's max_page_count), so that writes fail as on a full
// disk; 0 lifts the cap.
func (s *Service) LimitDatabasePages(ctx context.Context, n int) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if n == 0 {
		n = 1 << 30
	}
	_, err := s.w.Conn().ExecContext(ctx, "PRAGMA max_page_count="+strconv.Itoa(n))
	return err
}

// DatabasePages is the database's size in pages now.
func (s *Service) DatabasePages(ctx context.Context) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var n int
	err := s.w.Conn().QueryRowContext(ctx, "PRAGMA page_count").Scan(&n)
	return n, err
}

// StopThenFail is a write call that stores an emergency stop, in the
// database and in its copies, and then fails: none of it may stay.
func (s *Service) StopThenFail(ctx context.Context) error {
	return s.write(ctx, func(t *tx) error {
		if err := t.setStopped(true); err != nil {
			return err
		}
		return Conflict("changed my mind")
	})
}
