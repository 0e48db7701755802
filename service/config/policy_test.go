package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Without [policy] nothing is limited; every key is read into its field.
func TestPolicyKeys(t *testing.T) {
	cfg, err := Parse([]byte(singleBoard), testFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PolicySettings{SickBoardWindow: time.Hour}); cfg.Policy != want {
		t.Errorf("no [policy]: %+v, want no limits (%+v)", cfg.Policy, want)
	}
	cfg, err = Parse([]byte(`[policy]
max_keepalive = "30m"
max_job_duration = "24h"
max_live_jobs_per_owner = 2
max_boards_per_owner = 24
max_queued_jobs_per_owner = 10
sick_board_reports = 3
sick_board_window = "2h"
sick_board_destroys_job = true
`+singleBoard), testFile)
	if err != nil {
		t.Fatal(err)
	}
	want := PolicySettings{MaxKeepalive: 30 * time.Minute, MaxJobDuration: 24 * time.Hour, MaxLiveJobsPerOwner: 2,
		MaxBoardsPerOwner: 24, MaxQueuedJobsPerOwner: 10, SickBoardReports: 3, SickBoardWindow: 2 * time.Hour,
		SickBoardDestroysJob: true}
	if cfg.Policy != want {
		t.Errorf("policy %+v, want %+v", cfg.Policy, want)
	}
}

func TestPolicyMistakes(t *testing.T) {
	for text, want := range map[string]string{
		"[policy]\nmax_keepalive = 60\n":                "max_keepalive",
		"[policy]\nmax_live_jobs_per_owner = 0\n":       "policy.max_live_jobs_per_owner: must be from 1 to 1000000, not 0",
		"[policy]\nmax_job_duration = \"0s\"\n":         "policy.max_job_duration: must be from 1s to 8760h, not 0s",
		"[policy]\nsick_board_destroys_job = \"yes\"\n": "sick_board_destroys_job",
		"[policy]\nmax_boards_per_user = 3\n":           `unknown key "max_boards_per_user"; did you mean "max_boards_per_owner"?`,
		"[policy]\nsick_board_reports = 1001\n":         "policy.sick_board_reports: must be from 1 to 1000, not 1001",
		"[policy]\nsick_board_window = \"721h\"\n":      "policy.sick_board_window: must be from 1s to 720h, not 721h",
		"[policy]\nmax_queued_jobs_per_owner = -1\n":    "policy.max_queued_jobs_per_owner: must be from 1 to 1000000, not -1",
		"[policy]\nmax_keepalive = \"8761h\"\n":         "policy.max_keepalive: must be from 1s to 8760h, not 8761h",
		"[policy]\nmax_live_jobs_per_owner = 1.5\n":     "max_live_jobs_per_owner",
		"[policy]\nmax_boards_per_owner = \"twelve\"\n": "max_boards_per_owner",
		"[policy]\nmax_job_duration = \"a day\"\n":      `"a day" is not a duration`,
		"[policy]\nsick_board_window = \"-1h\"\n":       "policy.sick_board_window: must be from 1s to 720h, not -1h",
		"[policy]\nmax_keepalive = \"1h\"\n[policy]\n":  "policy",
		"policy = 3\n":                                   "policy",
		"[[policy]]\nmax_keepalive = \"1h\"\n":           "policy",
		"[policy]\nmax_job_duration = \"9223372036s\"\n": "must be from 1s to 8760h",
	} {
		_, err := Parse([]byte(text+singleBoard), testFile)
		wantErrorContaining(t, err, testFile, want)
	}
}

// writeTokens writes token files (name -> content, mode 0600) into dir.
func writeTokens(t *testing.T, dir string, tokens map[string]string) {
	t.Helper()
	for name, content := range tokens {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Named tokens are read with their names; admin_token_file's token is
// "operator".
func TestNamedAdminTokens(t *testing.T) {
	dir := t.TempDir()
	writeTokens(t, dir, map[string]string{"a": "alice-token\n", "b": " bob-token ", "op": "op-token"})
	path := writeFile(t, dir, "c.toml", `[server]
admin_token_file = "op"

[[admin_token]]
name = "alice"
file = "a"

[[admin_token]]
name = "bob@example.org"
file = "`+filepath.Join(dir, "b")+`"
`+singleBoard)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := cfg.ReadAdminTokens()
	if err != nil {
		t.Fatal(err)
	}
	want := []NamedToken{{"operator", "op-token"}, {"alice", "alice-token"}, {"bob@example.org", "bob-token"}}
	if len(tokens) != len(want) {
		t.Fatalf("tokens %+v, want %+v", tokens, want)
	}
	for i := range want {
		if tokens[i] != want[i] {
			t.Errorf("token %d: %+v, want %+v", i, tokens[i], want[i])
		}
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings for private token files: %q", cfg.Warnings)
	}

	// Without any token, none is read (mutations disabled).
	cfg, err = Parse([]byte(singleBoard), testFile)
	if err != nil {
		t.Fatal(err)
	}
	if tokens, err := cfg.ReadAdminTokens(); err != nil || len(tokens) != 0 {
		t.Errorf("no tokens configured: %v, %v", tokens, err)
	}
}

// Every mistake in [[admin_token]] is reported with the entry and key; a
// token that could stand for two names is refused.
func TestAdminTokenMistakes(t *testing.T) {
	dir := t.TempDir()
	writeTokens(t, dir, map[string]string{"a": "alice-token", "a2": "alice-token", "b": "bob-token", "empty": " \n",
		"op": "bob-token"})
	entry := func(name, file string) string {
		return "[[admin_token]]\nname = " + name + "\nfile = " + file + "\n"
	}
	for _, c := range []struct {
		text string
		want []string
	}{
		{entry(`"alice"`, `"a"`) + entry(`"alice"`, `"b"`), []string{`admin_token[2].name: "alice" is the name of an earlier token`}},
		{entry(`"alice"`, `"a"`) + entry(`"carol"`, `"a2"`), []string{"admin_token[2].file: holds the same token as admin_token[1] (alice)"}},
		{"[server]\nadmin_token_file = \"op\"\n" + entry(`"bob"`, `"b"`), []string{"admin_token[1].file: holds the same token as server.admin_token_file"}},
		{"[server]\nadmin_token_file = \"a\"\n" + entry(`"operator"`, `"b"`), []string{`admin_token[1].name: "operator" is the name of server.admin_token_file's token`}},
		{entry(`"server"`, `"a"`), []string{`admin_token[1].name: "server" is reserved`}},
		{entry(`"a b"`, `"a"`), []string{`admin_token[1].name: "a b" is not a usable token name`}},
		{entry(`""`, `"a"`), []string{`admin_token[1].name: "" is not a usable token name`}},
		{"[[admin_token]]\nfile = \"a\"\n", []string{"admin_token[1].name: every admin token needs a name"}},
		{"[[admin_token]]\nname = \"x\"\n", []string{"admin_token[1].file: every admin token needs a file"}},
		{entry(`"x"`, `""`), []string{"admin_token[1].file: must name a file"}},
		{entry(`"x"`, `"missing"`), []string{"admin_token[1].file: admin token file:", "missing"}},
		{entry(`"x"`, `"empty"`), []string{"admin_token[1].file: admin token file", "is empty"}},
		{entry(`"x"`, `"a"`) + "token = \"inline\"\n", []string{`unknown key "token"`}},
		{strings.Repeat(entry(`"x"`, `"a"`), MaxAdminTokens+1), []string{"admin_token: 101 tokens, more than the 100 allowed"}},
	} {
		_, err := Load(writeFile(t, dir, "c.toml", c.text+singleBoard))
		wantErrorContaining(t, err, append([]string{"c.toml"}, c.want...)...)
	}
}

// A token file every user may read is accepted with a warning naming the
// entry.
func TestWorldReadableNamedTokenWarns(t *testing.T) {
	dir := t.TempDir()
	token := writeFile(t, dir, "a", "alice-token") // 0644
	cfg, err := Load(writeFile(t, dir, "c.toml", "[[admin_token]]\nname = \"alice\"\nfile = \"a\"\n"+singleBoard))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "admin_token[1].file: "+token+" is readable by every user") {
		t.Errorf("warnings %q, want one about %s", cfg.Warnings, token)
	}
}
