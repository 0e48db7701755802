// Package db owns the SQLite database of spallocd: opening it with the right
// pragmas, applying the embedded goose migrations, and the sqlc-generated
// query code (db.go, models.go, *.sql.go — generated from ../queries, do not
// edit by hand; run scripts/sqlc.sh).
//
// It knows nothing of jobs, machines or allocation rules: the service package
// is its only user and decides what a transaction contains.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

// Synchronous modes accepted by Options.Synchronous.
const (
	// SyncNormal survives a killed process (every committed transaction is
	// in the WAL) but may lose the last commits on power loss. Default.
	SyncNormal = "NORMAL"
	// SyncFull also survives power loss, at the cost of an fsync per commit.
	SyncFull = "FULL"
)

// Options tune how the database is opened.
type Options struct {
	Synchronous string // SyncNormal (default) or SyncFull
	ReadConns   int    // size of the read pool; default 4
}

// DB is an open spallocd database: one writer connection (SQLite allows one
// writer at a time; a single connection avoids SQLITE_BUSY between our own
// writers) and a pool of readers that see committed data through WAL.
type DB struct {
	Write *sql.DB
	Read  *sql.DB
	Path  string
}

// Open opens (creating if needed) the database file at path, checks it and
// migrates it to the newest schema. An existing file is used only if it is
// an undamaged SQLite database whose schema this program knows (see
// checkFile, quickCheck and Migrate); anything else is refused, changing
// nothing, with a message that says what to do.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("database path is empty")
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = SyncNormal
	}
	if sync != SyncNormal && sync != SyncFull {
		return nil, fmt.Errorf("database synchronous mode %q: want NORMAL or FULL", opts.Synchronous)
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = 4
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn(path, sync, true))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		if isDamage(err) {
			return nil, damagedError(path, err.Error())
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := quickCheck(ctx, write, path); err != nil {
		write.Close()
		return nil, err
	}
	if err := Migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn(path, sync, false))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	return &DB{Write: write, Read: read, Path: path}, nil
}

// Close closes both connection pools.
func (d *DB) Close() error {
	rerr := d.Read.Close()
	werr := d.Write.Close()
	if werr != nil {
		return werr
	}
	return rerr
}

func dsn(path, sync string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	// Statement journals and sorters in memory: a temporary file costs a
	// write system call per page, and a bulk statement writes a few pages.
	q.Add("_pragma", "temp_store(MEMORY)")
	if writer {
		// Take the write lock at BEGIN, so a transaction never fails half
		// way because another process holds the database.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}
