package db_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	got := map[string]bool{}
	for _, n := range names(t, d, `SELECT name FROM sqlite_master WHERE type = 'table'`) {
		got[n] = true
	}
	return got
}

// names runs a query of one text column and returns its values.
func names(t *testing.T, d *db.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := d.Read.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
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

// TestOpenRefusesWhatIsNotItsDatabase: an empty file, a file that is not an
// SQLite database, a damaged database and a schema newer than this program
// are refused with a message saying what to do, and the file is left as it
// was.
func TestOpenRefusesWhatIsNotItsDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	d, err := db.Open(ctx, newer, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, 1)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, c := range []struct {
		name    string
		content []byte // nil: the file is made above
		want    string
	}{
		{"empty.db", []byte{}, "is an empty file, not a spallocd database: restore the database from a backup"},
		{"text.db", []byte("[server]\nlisten = \"0.0.0.0:22244\"\n"), "is not an SQLite database"},
		{"damaged.db", damaged(t, dir, false), "is damaged (quick_check: "},
		{"damaged-schema.db", damaged(t, dir, true), "is damaged (database disk image is malformed"},
		{"newer.db", nil, fmt.Sprintf("its schema is version 99, newer than this spallocd knows (version %d)", newestMigration(t))},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if c.content != nil {
				if err := os.WriteFile(path, c.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			d, err := db.Open(ctx, path, db.Options{})
			if err == nil {
				d.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q: want it to name %s and say %q", err, path, c.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("the refused file was changed")
			}
		})
	}
}

// damaged returns the bytes of a database with one page of a table's
// records overwritten (as a bad disk or a copy cut short leaves it), or
// with every page but the first overwritten (the schema is unreadable).
func damaged(t *testing.T, dir string, all bool) []byte {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("source-%v.db", all))
	d, err := db.Open(context.Background(), path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write.Exec(`CREATE TABLE filler (n INTEGER PRIMARY KEY, text TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO filler SELECT i, printf('%0200d', i) FROM n`); err != nil {
		t.Fatal(err)
	}
	d.Close() // checkpoints the WAL into the file
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	mid := len(data) / page / 2 * page
	from, to := mid+8, mid+page // a leaf page of filler, all but its header
	if all {
		from, to = page, len(data)
	}
	for i := from; i < to; i++ {
		data[i] = 0xA5
	}
	return data
}

func newestMigration(t *testing.T) int64 {
	t.Helper()
	m, err := db.NewMigrator(openTemp(t).Write)
	if err != nil {
		t.Fatal(err)
	}
	sources := m.ListSources()
	return sources[len(sources)-1].Version
}
