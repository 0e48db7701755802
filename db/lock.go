package db

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// One server per database. A server holds an exclusive lock on a file
// beside its database (PATH.lock) for its whole life, taken before the
// database is opened, migrated or loaded; the file holds the owner's pid so
// that a refused server can name it.
//
// Why flock(2) on a separate file: the kernel drops the lock when the
// process ends in any way (kill -9 included), so there is never a stale
// lock to clean up, and a lock file of its own keeps clear of SQLite's
// POSIX locks on the database (both are advisory and independent on local
// file systems; on NFS, Linux emulates flock with POSIX locks, which would
// clash with SQLite's if taken on the database itself). The lock file is
// never removed: removing it would let a third server lock a new file
// while the second still holds the old one.

// InUseError says that another server holds the database.
type InUseError struct {
	Path string // the database
	PID  int    // the holder's pid; 0 if it could not be read
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("database %s is in use by another spallocd (pid unknown; see %s)", e.Path, lockPath(e.Path))
	}
	return fmt.Sprintf("database %s is in use by another spallocd (pid %d)", e.Path, e.PID)
}

// Lock is a held database lock.
type Lock struct {
	f    *os.File
	path string // the database
}

// LockDatabase takes the lock of the database at path without waiting: an
// *InUseError if another process holds it. SQLite's in-memory databases need
// no lock.
func LockDatabase(path string) (*Lock, error) {
	if sqliteSpecialName(path) {
		return &Lock{}, nil
	}
	f, err := os.OpenFile(lockPath(path), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock database %s: %w", path, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock database %s (%s): %w", path, lockPath(path), err)
	}
	if !held {
		pid := readPID(f)
		f.Close()
		return nil, &InUseError{Path: path, PID: pid}
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock database %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// RemoveDatabase deletes the locked database file and its WAL companions,
// for a cold start. Only the holder of the lock can, so a server never
// deletes a database that another one uses; the lock file stays (see
// above). A released lock deletes nothing; an in-memory database has
// nothing to delete.
func (l *Lock) RemoveDatabase() error {
	switch {
	case l != nil && l.f == nil && l.path == "":
		return nil // in memory
	case l == nil || l.f == nil:
		return errors.New("remove the database: its lock is not held")
	}
	for _, p := range []string{l.path, l.path + "-wal", l.path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the database for a cold start: %w", err)
		}
	}
	return nil
}

// Release lets another server take the database.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func lockPath(db string) string { return db + ".lock" }

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the holder's pid, waiting briefly for a holder that has
// just taken the lock and not yet written it.
func readPID(f *os.File) int {
	for range 20 {
		buf := make([]byte, 32)
		n, _ := f.ReadAt(buf, 0) // io.EOF at the end of the short file
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}
