package faults

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// TestUnsafeStartRefused is issue 12.5 (its first two parts): spallocd
// refuses an existing database file that is empty, not SQLite, damaged, or
// of a newer schema, says what to do, and leaves the file as it was; an
// empty file is replaced only when the operator asks with --cold-start.
func TestUnsafeStartRefused(t *testing.T) {
	r := newRig(t, "")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	awaitState(t, c, createJob(t, c, []any{1}, nil), client.StateReady)
	if code := srv.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d after SIGTERM", code)
	}
	good, err := os.ReadFile(r.db)
	if err != nil {
		t.Fatal(err)
	}

	refused := func(t *testing.T, content []byte, want ...string) {
		t.Helper()
		if content != nil {
			os.Remove(r.db + "-wal")
			os.Remove(r.db + "-shm")
			if err := os.WriteFile(r.db, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := os.ReadFile(r.db)
		requestsBefore := r.proxy.Stats().Requests.Received
		p := testutil.StartServerProc(t, r.bins, "--config", r.config, "--db", r.db)
		if code := p.Wait(t, 30*time.Second); code != 1 {
			t.Fatalf("exit %d, want 1; output:\n%s", code, p.Output())
		}
		for _, w := range append(want, r.db) {
			if !strings.Contains(p.Output(), w) {
				t.Fatalf("output does not say %q:\n%s", w, p.Output())
			}
		}
		if after, _ := os.ReadFile(r.db); !bytes.Equal(before, after) {
			t.Fatal("the refused database file was changed")
		}
		if st := r.proxy.Stats(); st.Requests.Received != requestsBefore {
			t.Fatalf("a server that refused its database sent %d datagrams to the BMP", st.Requests.Received-requestsBefore)
		}
	}

	t.Run("empty file", func(t *testing.T) {
		refused(t, []byte{}, "is an empty file", "restore the database from a backup", "--cold-start")
		srv := r.start(t, "--cold-start")
		c := testutil.Dial(t, srv.V1)
		if id := createJob(t, c, []any{1}, nil); id != 1 {
			t.Fatalf("first job after --cold-start: id %d, want 1 (a new database)", id)
		}
		srv.Stop(t)
	})
	t.Run("not SQLite", func(t *testing.T) {
		refused(t, []byte("[server]\nlisten = \"0.0.0.0:22244\"\n"), "is not an SQLite database", "--cold-start")
	})
	t.Run("damaged", func(t *testing.T) {
		bad := append([]byte(nil), good...)
		for i := 4096; i < len(bad); i++ {
			bad[i] ^= 0x5A
		}
		refused(t, bad, "is damaged", "restore the database from a backup")
	})
	t.Run("newer schema", func(t *testing.T) {
		if err := os.WriteFile(r.db, good, 0o644); err != nil {
			t.Fatal(err)
		}
		conn, err := sql.Open("sqlite", r.db)
		if err != nil {
			t.Fatal(err)
		}
		var known int
		err = conn.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&known)
		if err == nil {
			_, err = conn.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, known+1)
		}
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		refused(t, nil, fmt.Sprintf("its schema is version %d, newer than this spallocd knows (version %d)", known+1, known))
	})
}
