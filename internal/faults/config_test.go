package faults

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
)

// TestConfigCannotHangOrOverflow is issue 12.6: configuration files built to
// hang or overflow the server are refused at once with a message naming
// what is wrong, at start and at reload (which then changes nothing); the
// HTTP API reaches a machine however its name is escaped and does not list
// its static folder.
func TestConfigCannotHangOrOverflow(t *testing.T) {
	r := newRig(t, "")
	good := readFile(t, r.config)
	fifo := filepath.Join(r.dir, "token-fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	cases := []struct {
		name, text, want string
	}{
		{"nesting 20,000 deep", "[server]\nx = " + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + "\n",
			":2: arrays and inline tables nested more than 16 deep"},
		{"admin token file is a FIFO", strings.Replace(good, "[server]\n", "[server]\nadmin_token_file = \"token-fifo\"\n", 1),
			"server.admin_token_file: admin token file: cannot read " + fifo + ": not a regular file (a named pipe)"},
		{"max_line_bytes overflows", strings.Replace(good, "[server]\n", "[server]\nmax_line_bytes = 9223372036854775807\n", 1),
			"server.max_line_bytes: must be from 1024 to 16777216, not 9223372036854775807"},
		{"retries overflows", strings.Replace(good, "[bmp]\n", "[bmp]\nretries = 9223372036854775807\n", 1),
			"bmp.retries: must be from 0 to 100, not 9223372036854775807"},
		{"a machine name that is no URL segment", strings.Replace(good, `name = "m"`, `name = "a/b:c"`, 1),
			`is not a usable machine name`},
	}
	for _, c := range cases {
		t.Run("start: "+c.name, func(t *testing.T) {
			cfg := filepath.Join(r.dir, "bad.toml")
			testutil.WriteFile(t, cfg, c.text)
			p := testutil.StartServerProc(t, r.bins, "--config", cfg, "--db", filepath.Join(t.TempDir(), "x.db"))
			if code := p.Wait(t, 10*time.Second); code != 1 || !strings.Contains(p.Output(), c.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit 1 and %q", code, p.Output(), c.want)
			}
		})
	}

	srv := r.start(t)
	for _, c := range cases {
		t.Run("reload: "+c.name, func(t *testing.T) {
			testutil.WriteFile(t, r.config, c.text)
			srv.Proc.Cmd.Process.Signal(syscall.SIGHUP)
			srv.Await(t, regexp.MustCompile("configuration reload failed; nothing changed.*"+regexp.QuoteMeta(c.want)))
			if code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/machines/m"); code != 200 {
				t.Fatalf("machine m after a refused reload: %d %s", code, body)
			}
		})
	}
	testutil.WriteFile(t, r.config, good)

	t.Run("HTTP", func(t *testing.T) {
		if code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/machines/%6D"); code != 200 {
			t.Errorf("machine m as %%6D: %d %s", code, body)
		}
		if code, body := testutil.HTTPGet(t, srv.HTTP, "/static/"); code != 404 || strings.Contains(body, "app.js") {
			t.Errorf("GET /static/: %d %s, want 404 and no listing", code, body)
		}
	})
	if _, err := os.Stat(fifo); err != nil {
		t.Fatal(err)
	}
}
