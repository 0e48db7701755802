package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spalloc/spallocd/db"
)

func openTemp(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "spalloc.db"), db.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func tables(t *testing.T, d *db.DB) map[string]bool {
	t.Helper()
	rows, err := d.Read.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got[n] = true
	}
	return got
}

var schemaTables = []string{"machines", "machine_tags", "bmps", "boards", "dead_links", "jobs",
	"job_queue", "board_allocations", "job_events", "bmp_ops", "board_reports", "server_state"}

func TestOpenCreatesSchemaAndReopenIsNoop(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spalloc.db")
	d, err := db.Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := tables(t, d)
	for _, name := range schemaTables {
		if !got[name] {
			t.Errorf("table %s missing after first open", name)
		}
	}
	m, _ := db.NewMigrator(d.Write)
	v1, err := m.GetDBVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	d2, err := db.Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d2.Close()
	m2, _ := db.NewMigrator(d2.Write)
	v2, _ := m2.GetDBVersion(ctx)
	pending, _ := m2.HasPending(ctx)
	if v1 != v2 || pending {
		t.Fatalf("reopen changed version %d -> %d (pending %v)", v1, v2, pending)
	}
}

func TestPragmas(t *testing.T) {
	d := openTemp(t)
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "1"}, {"busy_timeout", "10000"},
	} {
		var got string
		if err := d.Write.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	if _, err := d.Read.Exec(`INSERT INTO server_state(key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestEveryMigrationGoesDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	m, err := db.NewMigrator(d.Write)
	if err != nil {
		t.Fatal(err)
	}
	sources := m.ListSources()
	if len(sources) == 0 {
		t.Fatal("no migrations found")
	}
	for i := len(sources) - 1; i >= 0; i-- {
		if _, err := m.Down(ctx); err != nil {
			t.Fatalf("down from version %d: %v", sources[i].Version, err)
		}
	}
	if got := tables(t, d); got["jobs"] || got["boards"] {
		t.Fatalf("tables left after migrating everything down: %v", got)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	got := tables(t, d)
	for _, name := range schemaTables {
		if !got[name] {
			t.Errorf("table %s missing after down and up", name)
		}
	}
}

func TestBadSynchronousModeIsRejected(t *testing.T) {
	_, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), db.Options{Synchronous: "sometimes"})
	if err == nil {
		t.Fatal("want an error naming the synchronous mode")
	}
}
