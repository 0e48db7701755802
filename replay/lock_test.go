package replay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// A replay starts its database file cold, and so only under the file's
// lock: pointed (--db) at the database of a running server, it is refused
// and deletes nothing.
func TestReplayRefusesADatabaseInUse(t *testing.T) {
	tr, ms := load(t, "testdata/tiny.csv", "testdata/tiny.machine.json")
	path := filepath.Join(t.TempDir(), "spalloc.db")
	if err := os.WriteFile(path, []byte("a server's database"), 0o644); err != nil {
		t.Fatal(err)
	}
	server, err := db.LockDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Release()

	_, err = Run(context.Background(), tr, ms, Options{DBPath: path})
	var inUse *db.InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("replay on a database in use: %v, want it refused as in use", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, []byte("a server's database")) {
		t.Fatalf("the database in use was changed: %q", got)
	}
}
