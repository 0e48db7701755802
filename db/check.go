package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Checks of an existing database file before it is used. A file that is
// not what it should be is refused, never replaced: an empty file silently
// turned into a fresh database would lose every job.

// sqliteHeader starts every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// restoreHint says how to recover from a refused file.
const restoreHint = "restore the database from a backup (stop spallocd, copy the backup to %[1]s, " +
	"remove %[1]s-wal and %[1]s-shm, start), or move the file away and start with --cold-start " +
	"to begin with an empty database (every job is forgotten)"

// checkFile refuses an existing file at path that is empty or not an
// SQLite database. A missing file is fine (Open creates it), and so are
// SQLite's special names.
func checkFile(path string) error {
	if sqliteSpecialName(path) {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("database %s is not a regular file", path)
	}
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && walHoldsData(path):
		// Written only to the WAL so far (a killed first start): SQLite
		// recovers it.
		return nil
	case n == 0:
		return fmt.Errorf("database %s is an empty file, not a spallocd database: "+restoreHint, path)
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("open database %s: %w", path, err)
	case !bytes.Equal(head[:n], sqliteHeader):
		return fmt.Errorf("database %s is not an SQLite database (it does not start with the SQLite header): "+
			"check the path; if it is the database, "+restoreHint, path)
	}
	return nil
}

// sqliteSpecialName reports an in-memory database or a URI filename: not a
// plain file path that can be checked or locked beside.
func sqliteSpecialName(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file:")
}

func walHoldsData(path string) bool {
	info, err := os.Stat(path + "-wal")
	return err == nil && info.Size() > 0
}

// quickCheck runs SQLite's PRAGMA quick_check (every page and index entry
// is well formed; it reads the whole file once) and refuses a damaged
// database.
func quickCheck(ctx context.Context, conn *sql.DB, path string) error {
	rows, err := conn.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return checkFailed(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return checkFailed(path, err)
		}
		if line != "ok" && len(problems) < 3 {
			problems = append(problems, strings.Join(strings.Fields(line), " "))
		}
	}
	if err := rows.Err(); err != nil {
		return checkFailed(path, err)
	}
	if len(problems) > 0 {
		return damagedError(path, "quick_check: "+strings.Join(problems, "; "))
	}
	return nil
}

func checkFailed(path string, err error) error {
	if isDamage(err) {
		return damagedError(path, err.Error())
	}
	return fmt.Errorf("check database %s: %w", path, err)
}

func damagedError(path, detail string) error {
	return fmt.Errorf("database %s is damaged (%s): "+restoreHint, path, detail)
}

// isDamage reports SQLite's "database disk image is malformed" and "file is
// not a database".
func isDamage(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff // the primary code of an extended one
	return code == sqlite3.SQLITE_CORRUPT || code == sqlite3.SQLITE_NOTADB
}
