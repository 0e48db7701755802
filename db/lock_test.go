package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestLockDatabaseIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spalloc.db")
	first, err := LockDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDatabase(path)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second lock: %v, want an *InUseError", err)
	}
	want := fmt.Sprintf("database %s is in use by another spallocd (pid %d)", path, os.Getpid())
	if err.Error() != want {
		t.Fatalf("second lock: %q, want %q", err, want)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := LockDatabase(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Release()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("locking created or touched the database itself: %v", err)
	}
}

// A cold start deletes the database only through a held lock: the holder
// removes the file and its WAL companions; a released lock removes nothing.
func TestRemoveDatabaseNeedsTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spalloc.db")
	files := []string{path, path + "-wal", path + "-shm"}
	write := func() {
		t.Helper()
		for _, f := range files {
			if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write()
	l, err := LockDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveDatabase(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after RemoveDatabase: %v, want it gone", f, err)
		}
	}
	if err := l.RemoveDatabase(); err != nil {
		t.Errorf("removing a database that is not there: %v", err)
	}

	write()
	l.Release()
	if err := l.RemoveDatabase(); err == nil {
		t.Error("a released lock removed the database")
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s after a refused RemoveDatabase: %v", f, err)
		}
	}
	mem, _ := LockDatabase(":memory:")
	if err := mem.RemoveDatabase(); err != nil {
		t.Errorf("in-memory database: %v, want nothing to do", err)
	}
}
