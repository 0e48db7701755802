package service

// The writer connection. The service holds the pool's only writer
// connection for its whole life and runs its transactions on it with plain
// BEGIN IMMEDIATE / COMMIT statements and queries prepared on it, instead
// of database/sql transactions: a database/sql transaction starts a
// goroutine to watch its context and wraps every statement anew, which cost
// more than a short write transaction's own work. Everything that uses the
// writer connection holds wmu, so no statement ever runs inside another
// caller's transaction.

import (
	"context"
	"strings"
)

// begin starts a write transaction, taking SQLite's write lock at once.
func (s *Service) begin(ctx context.Context) error {
	_, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE")
	return err
}

// commitSQL commits the write transaction.
func (s *Service) commitSQL(ctx context.Context) error {
	_, err := s.wconn.ExecContext(ctx, "COMMIT")
	return err
}

// rollback ends the write transaction without changes. SQLite may have
// rolled back already (after some I/O errors), which is fine; any other
// failure leaves the connection unusable for writes, so it is logged.
func (s *Service) rollback(ctx context.Context) {
	_, err := s.wconn.ExecContext(ctx, "ROLLBACK")
	if err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		s.log.Error("database rollback failed", "err", err)
	}
}
