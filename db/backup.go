package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// BackupOptions tune Backup.
type BackupOptions struct {
	// Replace allows an existing destination file to be replaced.
	// Without it an existing file is an error and is left as it was.
	Replace bool
}

// ErrBackupExists is returned (wrapped) when the destination exists and
// BackupOptions.Replace is not set.
var ErrBackupExists = errors.New("backup file exists")

// Backup writes a consistent copy of the spallocd database at src to dst
// while a server may be writing it: SQLite's VACUUM INTO reads one snapshot
// (WAL readers never block the writer, nor it them) into a temporary file
// beside dst, which is checked, synced and only then given its name, so dst
// is either absent, the old file, or a whole new copy. It returns the size
// of the copy. The source is never created or changed.
func Backup(ctx context.Context, src, dst string, opts BackupOptions) (int64, error) {
	if err := checkBackupPaths(src, dst, opts.Replace); err != nil {
		return 0, err
	}
	conn, err := openForBackup(ctx, src)
	if err != nil {
		return 0, err
	}
	defer conn.Close()

	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmpPath)
		}
	}()
	// The empty temporary file is allowed as VACUUM INTO's target.
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", tmpPath); err != nil {
		return 0, fmt.Errorf("backup of %s: %w", src, err)
	}
	size, err := verifyCopy(ctx, tmpPath)
	if err != nil {
		return 0, err
	}
	if err := place(tmpPath, dst, opts.Replace); err != nil {
		return 0, err
	}
	placed = true
	return size, syncDir(filepath.Dir(dst))
}

func checkBackupPaths(src, dst string, replace bool) error {
	switch {
	case src == "":
		return errors.New("backup: no database given")
	case dst == "":
		return errors.New("backup: no backup file given")
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("backup: database %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("backup: database %s is not a regular file", src)
	}
	if dfi, err := os.Stat(dst); err == nil {
		if os.SameFile(fi, dfi) {
			return fmt.Errorf("backup: %s is the database itself", dst)
		}
		if !replace {
			return fmt.Errorf("%w: %s (a backup never replaces a file unless asked to)", ErrBackupExists, dst)
		}
	}
	return nil
}

// openForBackup opens src without creating it and checks that it is a
// spallocd database. Only reads are made (query_only would refuse VACUUM
// INTO; mode=ro cannot read a WAL database whose server is not running).
func openForBackup(ctx context.Context, src string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw") // never create
	q.Add("_pragma", "busy_timeout(10000)")
	conn, err := sql.Open("sqlite", "file:"+src+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("backup: open %s: %w", src, err)
	}
	conn.SetMaxOpenConns(1)
	var tables int
	err = conn.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('goose_db_version', 'jobs', 'boards')`).Scan(&tables)
	if err == nil && tables != 3 {
		err = errors.New("not a spallocd database")
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("backup: %s: %w", src, err)
	}
	return conn, nil
}

// verifyCopy checks the copy's integrity and syncs it to disk (VACUUM INTO
// does not).
func verifyCopy(ctx context.Context, path string) (int64, error) {
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("backup: check the copy: %w", err)
	}
	var result string
	err = conn.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result)
	conn.Close()
	if err == nil && result != "ok" {
		err = fmt.Errorf("integrity check: %s", result)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: the copy is damaged: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("backup: sync %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return fi.Size(), nil
}

// place gives the finished copy its name: replacing dst atomically when
// allowed, else by a hard link that fails if dst appeared meanwhile.
func place(tmp, dst string, replace bool) error {
	if replace {
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	}
	err := os.Link(tmp, dst)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %s (it appeared while the copy was made)", ErrBackupExists, dst)
	}
	// A file system without hard links: check, then rename.
	if _, statErr := os.Lstat(dst); statErr == nil {
		return fmt.Errorf("%w: %s (it appeared while the copy was made)", ErrBackupExists, dst)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("backup: sync folder %s: %w", dir, err)
	}
	return nil
}
