package db_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// newDatabase makes a migrated spallocd database with one row written.
func newDatabase(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spalloc.db")
	d, err := db.Open(context.Background(), path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Write.Exec(`INSERT INTO server_state (key, value) VALUES ('backup-test', 'written')`); err != nil {
		t.Fatal(err)
	}
	return path
}

func readMarker(t *testing.T, path string) string {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v string
	if err := conn.QueryRow(`SELECT value FROM server_state WHERE key = 'backup-test'`).Scan(&v); err != nil {
		t.Fatalf("read the backup %s: %v", path, err)
	}
	return v
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	src := newDatabase(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "copy.db")

	size, err := db.Backup(ctx, src, dst, db.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != size || size == 0 {
		t.Fatalf("backup file: %v, %v; reported size %d", fi, err, size)
	}
	if got := readMarker(t, dst); got != "written" {
		t.Errorf("the copy holds %q, want the source's row", got)
	}

	t.Run("an existing file is refused and left alone", func(t *testing.T) {
		os.WriteFile(dst, []byte("yesterday's backup"), 0o644)
		_, err := db.Backup(ctx, src, dst, db.BackupOptions{})
		if !errors.Is(err, db.ErrBackupExists) || !strings.Contains(err.Error(), dst) {
			t.Fatalf("backup onto an existing file: %v, want ErrBackupExists naming it", err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "yesterday's backup" {
			t.Errorf("the existing file was changed")
		}
	})
	t.Run("Replace replaces it", func(t *testing.T) {
		if _, err := db.Backup(ctx, src, dst, db.BackupOptions{Replace: true}); err != nil {
			t.Fatal(err)
		}
		if got := readMarker(t, dst); got != "written" {
			t.Errorf("the replaced copy holds %q", got)
		}
	})
	t.Run("no temporary files are left", func(t *testing.T) {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("backup folder holds %v, want copy.db only", entries)
		}
	})
}

func TestBackupRefusesBadSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("not a database at all, just some text that is long enough"), 0o644)
	other := filepath.Join(dir, "other.db")
	if conn, err := sql.Open("sqlite", other); err == nil {
		conn.Exec(`CREATE TABLE t (x)`)
		conn.Close()
	}
	src := newDatabase(t)
	for _, c := range []struct {
		name, src, dst, want string
	}{
		{"missing database", missing, filepath.Join(dir, "a.db"), "no such file"},
		{"not SQLite", notDB, filepath.Join(dir, "b.db"), "notes.txt"},
		{"another program's database", other, filepath.Join(dir, "c.db"), "not a spallocd database"},
		{"onto itself", src, src, "the database itself"},
		{"no such folder", src, filepath.Join(dir, "nowhere", "d.db"), "nowhere"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.Backup(ctx, c.src, c.dst, db.BackupOptions{Replace: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Backup(%s, %s): %v, want an error with %q", c.src, c.dst, err, c.want)
			}
			if c.dst != c.src {
				if _, err := os.Stat(c.dst); err == nil {
					t.Errorf("a failed backup left %s", c.dst)
				}
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("backing up a missing database created it")
	}
}
