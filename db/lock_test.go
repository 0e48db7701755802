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
