package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConf01Defaults(t *testing.T) {
	for name, cfg := range map[string]*Config{"Default()": Default(), "a file with an empty [server]": mustParse(t, "[server]\n")} {
		t.Run(name, func(t *testing.T) {
			s, b := cfg.Server, cfg.BMP
			if len(cfg.Machines) != 0 {
				t.Errorf("machines %v, want none", cfg.Machines)
			}
			if s.Listen != "0.0.0.0:22244" || s.HTTP != "127.0.0.1:22245" || s.Database != "spalloc.db" {
				t.Errorf("listen %q, http %q, database %q", s.Listen, s.HTTP, s.Database)
			}
			if s.KeepaliveCheckInterval != 5*time.Second || s.FreeDelay != 0 || s.RetainDestroyed != 0 ||
				s.AdminTokenFile != "" || s.MaxLineBytes != 65536 {
				t.Errorf("server settings %+v", s)
			}
			if b.Timeout != time.Second || b.Retries != 3 || b.PowerOnTimeout != 10*time.Second || b.PowerOnRate != 0 ||
				b.PowerOnRetries != 0 || b.PostPowerOnDelay != 5*time.Second || b.FPGACheckRounds != 3 ||
				b.RequestAttempts != 2 || b.RequestRetryDelay != 15*time.Second {
				t.Errorf("BMP settings %+v", b)
			}
		})
	}
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(text), testFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestServerAndBMPKeys(t *testing.T) {
	cfg := mustParse(t, `
[server]
listen = "127.0.0.1:0"
http = ""
database = "/var/lib/spalloc/state.db"
keepalive_check_interval = "500ms"
free_delay = "30s"
retain_destroyed = 1200
max_line_bytes = 1024
[bmp]
timeout = "500ms"
retries = 4
power_on_timeout = "5.5s"
power_on_retries = 1
power_off_timeout = "1s"
power_off_retries = 2
post_power_on_delay = "0s"
fpga_check_rounds = 1
request_attempts = 3
request_retry_delay = "1s"
power_on_rate = 2.5
unreachable_free_after = "1m"
`)
	s, b := cfg.Server, cfg.BMP
	if s.Listen != "127.0.0.1:0" || s.HTTP != "" || s.Database != "/var/lib/spalloc/state.db" ||
		s.KeepaliveCheckInterval != 500*time.Millisecond || s.FreeDelay != 30*time.Second ||
		s.RetainDestroyed != 1200 || s.MaxLineBytes != 1024 {
		t.Errorf("server settings %+v", s)
	}
	want := BMPSettings{
		Timeout: 500 * time.Millisecond, Retries: 4, PowerOnTimeout: 5500 * time.Millisecond, PowerOnRetries: 1,
		PowerOffTimeout: time.Second, PowerOffRetries: 2, FPGACheckRounds: 1, RequestAttempts: 3,
		RequestRetryDelay: time.Second, PowerOnRate: 2.5, UnreachableFreeAfter: time.Minute,
	}
	if b != want {
		t.Errorf("BMP settings %+v, want %+v", b, want)
	}
}

func TestSettingErrors(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "bare number as duration", toml: "[server]\nfree_delay = 5\n",
			wantErr: []string{":2:", "server.free_delay", `a duration must be a string such as "500ms"`}},
		{name: "not a duration", toml: "[bmp]\ntimeout = \"soon\"\n",
			wantErr: []string{":2:", "bmp.timeout", `"soon" is not a duration`}},
		{name: "negative free delay", toml: "[server]\nfree_delay = \"-1s\"\n",
			wantErr: []string{"server.free_delay: must be from 0s to 24h, not -1s"}},
		{name: "zero keepalive check interval", toml: "[server]\nkeepalive_check_interval = \"0s\"\n",
			wantErr: []string{"server.keepalive_check_interval: must be from 10ms to 1h, not 0s"}},
		{name: "negative retention", toml: "[server]\nretain_destroyed = -1\n",
			wantErr: []string{"server.retain_destroyed: must be from 0 to 100000000, not -1"}},
		{name: "listen without port", toml: "[server]\nlisten = \"localhost\"\n",
			wantErr: []string{`server.listen: "localhost" is not a listen address`}},
		{name: "http with a bad port", toml: "[server]\nhttp = \"127.0.0.1:http\"\n",
			wantErr: []string{`server.http: "127.0.0.1:http" is not a listen address`}},
		{name: "empty listen", toml: "[server]\nlisten = \"\"\n",
			wantErr: []string{`server.listen: "" is not a listen address`}},
		{name: "empty database", toml: "[server]\ndatabase = \"\"\n",
			wantErr: []string{"server.database: must name a file"}},
		{name: "negative power-on rate", toml: "[bmp]\npower_on_rate = -1\n",
			wantErr: []string{"bmp.power_on_rate: must be from 0 to 1000000, not -1"}},
		{name: "no request attempts", toml: "[bmp]\nrequest_attempts = 0\n",
			wantErr: []string{"bmp.request_attempts: must be from 1 to 100, not 0"}},
		{name: "wrong type", toml: "[server]\nmax_line_bytes = \"64k\"\n",
			wantErr: []string{":2:", "server.max_line_bytes: wrong type: want an integer, got a string"}},
	})
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "  s3cret\n")
	path := writeFile(t, dir, "spalloc.toml", "[server]\ndatabase = \"state/spalloc.db\"\nadmin_token_file = \"token\"\n"+singleBoard)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state", "spalloc.db"); cfg.Server.Database != want {
		t.Errorf("database %q, want %q", cfg.Server.Database, want)
	}
	if want := filepath.Join(dir, "token"); cfg.Server.AdminTokenFile != want {
		t.Errorf("admin token file %q, want %q", cfg.Server.AdminTokenFile, want)
	}
	token, err := cfg.Server.AdminToken()
	if err != nil || token != "s3cret" {
		t.Errorf("token %q, %v; want s3cret (trimmed)", token, err)
	}
	if cfg.Path != path {
		t.Errorf("Path %q, want %q", cfg.Path, path)
	}
}

func TestSQLiteSpecialNamesAreNotResolved(t *testing.T) {
	for _, db := range []string{":memory:", "file:x.db?mode=ro"} {
		cfg, err := Parse([]byte("[server]\ndatabase = \""+db+"\"\n"), "/etc/spalloc/spalloc.toml")
		if err != nil || cfg.Server.Database != db {
			t.Errorf("database %q gave %q, %v", db, cfg.Server.Database, err)
		}
	}
}

func TestAdminTokenProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "blank", " \n")
	for file, want := range map[string]string{"blank": "is empty", "missing": "no such file"} {
		path := writeFile(t, dir, "c.toml", "[server]\nadmin_token_file = \""+file+"\"\n")
		_, err := Load(path)
		wantErrorContaining(t, err, "c.toml: server.admin_token_file:", filepath.Join(dir, file), want)
	}
	if token, err := Default().Server.AdminToken(); token != "" || err != nil {
		t.Errorf("no token file configured gave %q, %v; want no token, no error", token, err)
	}
}

// CONF-20/21: a missing file, bad syntax or a file that defines nothing is an
// error, never an empty configuration.
func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "absent.toml"))
	wantErrorContaining(t, err, "absent.toml: cannot read the file:", "no such file")

	bad := writeFile(t, dir, "bad.toml", "[server]\nlisten = \"0.0.0.0:1\"\nhttp = = \"x\"\n")
	_, err = Load(bad)
	wantErrorContaining(t, err, "bad.toml:3: ")
	if strings.Contains(err.Error(), "server.listen") {
		t.Errorf("a syntax error names the last good key as if it were the problem: %v", err)
	}

	for _, empty := range []string{"", "# only a comment\n\n"} {
		path := writeFile(t, dir, "empty.toml", empty)
		_, err = Load(path)
		wantErrorContaining(t, err, "empty.toml: the file defines nothing")
	}
}

func TestErrorsAreJoinedAndTyped(t *testing.T) {
	_, err := Parse([]byte("[server]\nretain_destroyed = -1\nmax_line_bytes = 0\n"), testFile)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("error %v, want two joined problems", err)
	}
	for _, e := range joined.Unwrap() {
		ce, ok := e.(*Error)
		if !ok || ce.File != testFile || !strings.HasPrefix(ce.Field, "server.") {
			t.Errorf("problem %#v, want an *Error naming file and field", e)
		}
	}
}

func TestLoadReadsTheFileGiven(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "c.toml", "[server]\nlisten = \"127.0.0.1:9\"\n"+singleBoard)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil || cfg.Server.Listen != "127.0.0.1:9" {
		t.Fatalf("listen %v, %v", cfg, err)
	}
}

func TestSchedulerPolicy(t *testing.T) {
	if got := Default().Scheduler.Policy; got != PolicyReserve {
		t.Errorf("default policy %q, want %q", got, PolicyReserve)
	}
	for text, want := range map[string]string{
		"[server]\n":                          PolicyReserve,
		"[scheduler]\n":                       PolicyReserve,
		"[scheduler]\npolicy = \"reserve\"\n": PolicyReserve,
		"[scheduler]\npolicy = \"fifo\"\n":    PolicyFIFO,
	} {
		if got := mustParse(t, text).Scheduler.Policy; got != want {
			t.Errorf("%q: policy %q, want %q", text, got, want)
		}
	}
}

func TestSchedulerPolicyErrors(t *testing.T) {
	for text, fragments := range map[string][]string{
		"[scheduler]\npolicy = \"FIFO\"\n": {testFile, "scheduler.policy", `must be "reserve" or "fifo", not "FIFO"`},
		"[scheduler]\npolicy = \"\"\n":     {"scheduler.policy", `not ""`},
		"[scheduler]\npolicy = 1\n":        {"policy"},
		"[scheduler]\npolisy = \"fifo\"\n": {testFile + ":2", `unknown key "polisy"; did you mean "policy"?`},
		"[schedular]\npolicy = \"fifo\"\n": {`unknown key "schedular"`},
	} {
		_, err := Parse([]byte(text), testFile)
		wantErrorContaining(t, err, fragments...)
	}
}
