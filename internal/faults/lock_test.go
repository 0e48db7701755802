package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// TestOneServerPerDatabase is issue 12.1: a second spallocd on a database in
// use exits 1 at once, naming the first one's pid, and A's jobs live on; a
// server whose port is taken exits before its BMPs hear a packet.
func TestOneServerPerDatabase(t *testing.T) {
	r := newRig(t, "")
	a := r.start(t)
	c := testutil.Dial(t, a.V1)
	var ids []int64
	for range 3 {
		ids = append(ids, createJob(t, c, []any{1}, map[string]any{"keepalive": 4.0}))
	}
	for _, id := range ids {
		awaitState(t, c, id, client.StateReady)
	}

	began := time.Now()
	b := testutil.StartServerProc(t, r.bins, "--config", r.config, "--db", r.db)
	code := b.Wait(t, 10*time.Second)
	t.Logf("the second server refused in %v (wall time from fork to exit, programs started from a warm page cache)", time.Since(began).Round(time.Millisecond))
	want := fmt.Sprintf("database %s is in use by another spallocd (pid %d)", r.db, a.PID())
	if code != 1 || !strings.Contains(b.Output(), want) {
		t.Fatalf("second server: exit %d, output:\n%s\nwant exit 1 and %q", code, b.Output(), want)
	}

	// A second server with --cold-start is refused the same way and
	// deletes nothing (a database is deleted only under its lock): A's
	// files stay where they are, the same files, not new ones (A would go
	// on writing to deleted ones unnoticed).
	files := map[string]os.FileInfo{}
	for _, f := range []string{r.db, r.db + "-wal"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		files[f] = fi
	}
	cold := testutil.StartServerProc(t, r.bins, "--config", r.config, "--db", r.db, "--cold-start")
	if code := cold.Wait(t, 10*time.Second); code != 1 || !strings.Contains(cold.Output(), want) {
		t.Fatalf("second server with --cold-start: exit %d, output:\n%s\nwant exit 1 and %q", code, cold.Output(), want)
	}
	for f, before := range files {
		if after, err := os.Stat(f); err != nil || !os.SameFile(before, after) {
			t.Fatalf("%s after a refused --cold-start: %v (same file: %v); want it untouched", f, err, err == nil && os.SameFile(before, after))
		}
	}

	// A's jobs outlive a keepalive period with A alone keeping them alive,
	// and A still creates jobs (no board taken twice).
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		for _, id := range ids {
			if err := c.JobKeepalive(testutil.Ctx(t), id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range ids {
		st, err := c.GetJobState(testutil.Ctx(t), id)
		if err != nil || st.State != client.StateReady {
			t.Fatalf("job %d after the second server: %+v, %v; want ready", id, st, err)
		}
	}
	awaitState(t, c, createJob(t, c, []any{1}, nil), client.StateReady)

	t.Run("taken port", func(t *testing.T) {
		for _, flag := range []string{"--listen", "--http"} {
			taken := a.V1
			if flag == "--http" {
				taken = a.HTTP
			}
			// A fresh database and a machine whose BMP (a proxy that
			// counts datagrams) no other server talks to.
			proxy, err := udpproxy.Start("127.0.0.1:0", r.proxy.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "spalloc.toml")
			testutil.WriteFile(t, cfg, testutil.FastTOML+testutil.MachineTOML("m", 2, proxy.Addr(), "10.9.0"))
			p := testutil.StartServerProc(t, r.bins, "--config", cfg, "--db", filepath.Join(dir, "spalloc.db"), flag, taken)
			if code := p.Wait(t, 10*time.Second); code != 1 || !strings.Contains(p.Output(), "address already in use") {
				t.Fatalf("%s %s (taken): exit %d, output:\n%s\nwant exit 1 naming the address in use", flag, taken, code, p.Output())
			}
			time.Sleep(300 * time.Millisecond) // a datagram sent just before the exit would arrive by now
			if st := proxy.Stats(); st.Requests.Received != 0 {
				t.Fatalf("%s taken: the BMP received %d datagrams from a server that could not start", flag, st.Requests.Received)
			}
		}
	})
}
