package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Writer is the pool's only writer connection, held for the service's
// life, with every query prepared on it. Transactions run on it with plain
// BEGIN IMMEDIATE / COMMIT statements instead of database/sql transactions:
// a database/sql transaction starts a goroutine to watch its context and
// wraps every statement anew, which cost more than a short write
// transaction's own work. A Writer is not safe for concurrent use; its
// owner serialises the calls.
type Writer struct {
	*Queries
	conn *sql.Conn
}

// OpenWriter takes the writer connection and prepares the queries on it.
func (d *DB) OpenWriter(ctx context.Context) (*Writer, error) {
	conn, err := d.Write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the writer connection: %w", err)
	}
	q, err := Prepare(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Writer{Queries: q, conn: conn}, nil
}

// Close releases the prepared queries and the connection.
func (w *Writer) Close() error {
	return errors.Join(w.Queries.Close(), w.conn.Close())
}

// Begin starts a write transaction, taking SQLite's write lock at once.
func (w *Writer) Begin(ctx context.Context) error { return w.exec(ctx, "BEGIN IMMEDIATE") }

// Commit commits the write transaction.
func (w *Writer) Commit(ctx context.Context) error { return w.exec(ctx, "COMMIT") }

// Rollback ends the write transaction without its changes. SQLite may have
// rolled it back already (after some I/O errors), which is not an error.
func (w *Writer) Rollback(ctx context.Context) error {
	err := w.exec(ctx, "ROLLBACK")
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		return nil
	}
	return err
}

// SetAutoCheckpoint sets the log size (pages) at which a commit checkpoints
// the write-ahead log itself.
func (w *Writer) SetAutoCheckpoint(ctx context.Context, pages int) error {
	return w.exec(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", pages))
}

func (w *Writer) exec(ctx context.Context, stmt string) error {
	_, err := w.conn.ExecContext(ctx, stmt)
	return err
}

// Checkpoint copies the write-ahead log into the database from a reader
// connection, without blocking the writer (a passive checkpoint).
func (d *DB) Checkpoint(ctx context.Context) error {
	_, err := d.Read.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	return err
}

// Conn is the connection itself, for what the service never does on it
// (the tests' pragmas, e.g. a page limit that fails writes like a full
// disk). Its user must be the Writer's owner, under the same serialisation.
func (w *Writer) Conn() *sql.Conn { return w.conn }
