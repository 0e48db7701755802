package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// awaitWhoami polls whoami with token until it answers code.
func awaitWhoami(t *testing.T, addr, token string, code int) string {
	t.Helper()
	var body string
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("whoami with %q answers %d", token, code), func() bool {
		var got int
		got, body = testutil.HTTPDo(t, addr, http.MethodGet, "/api/v1/whoami", "", token)
		return got == code
	})
	return body
}

// TestPolicyWithTheRealServer runs spallocd with a [policy] table and named
// tokens: owner limits answer v1 clients, a drain made by a named operator
// survives a killed server, a reload changes who may act, and problem
// reports take a board out of service.
func TestPolicyWithTheRealServer(t *testing.T) {
	spallocd, _ := binaries(t)
	dir := t.TempDir()
	for name, token := range map[string]string{"alice": "alice-token", "bob": "bob-token"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath, dbPath := filepath.Join(dir, "spalloc.toml"), filepath.Join(dir, "db.sqlite")
	config := func(operators ...string) string {
		var b strings.Builder
		b.WriteString("[policy]\nmax_live_jobs_per_owner = 1\nmax_queued_jobs_per_owner = 1\nsick_board_reports = 2\n")
		for _, op := range operators {
			b.WriteString("[[admin_token]]\nname = \"" + op + "\"\nfile = \"" + op + "\"\n")
		}
		b.WriteString("[[machine]]\nname = \"m0\"\nsingle_board = { bmp_ip = \"10.31.0.0\", spinnaker_ip = \"10.31.0.1\" }\n" +
			"fake_bmp = { power_delay = \"0s\", link_delay = \"0s\" }\n" +
			"[[machine]]\nname = \"m1\"\nsingle_board = { bmp_ip = \"10.32.0.0\", spinnaker_ip = \"10.32.0.1\" }\n" +
			"fake_bmp = { power_delay = \"0s\", link_delay = \"0s\" }\n")
		return b.String()
	}
	writeFile(t, cfgPath, config("alice"))
	s := testutil.StartServer(t, testutil.Binaries{Spallocd: spallocd}, "--config", cfgPath, "--db", dbPath)
	if body := awaitWhoami(t, s.HTTP, "alice-token", http.StatusOK); !strings.Contains(body, `"alice"`) {
		t.Fatalf("whoami: %s", body)
	}
	awaitWhoami(t, s.HTTP, "bob-token", http.StatusUnauthorized)

	c := dial(t, s.V1)
	kw := map[string]any{"owner": "carol", "keepalive": nil}
	running, err := c.CreateJob(ctxT(t), nil, kw)
	if err != nil {
		t.Fatal(err)
	}
	awaitState(t, c, running, client.StateReady)
	queued, err := c.CreateJob(ctxT(t), nil, kw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctxT(t), nil, kw); err == nil || !strings.Contains(err.Error(), "owner limit: carol has 1 queued job") ||
		!strings.Contains(err.Error(), "max_queued_jobs_per_owner") {
		t.Fatalf("a second queued job of carol: %v, want an exception naming the limit", err)
	}
	if code, body := testutil.HTTPDo(t, s.HTTP, http.MethodPost, "/api/v1/machines/m1/drain", `{"reason": "rewiring"}`, "alice-token"); code != 200 {
		t.Fatalf("drain: %d %s", code, body)
	}

	s.Kill()
	s = testutil.StartServer(t, testutil.Binaries{Spallocd: spallocd}, "--config", cfgPath, "--db", dbPath)
	c = dial(t, s.V1)
	if st := state(t, c, queued); st.State != client.StateQueued {
		t.Fatalf("carol's second job after a restart: %+v", st)
	}
	_, body := testutil.HTTPGet(t, s.HTTP, "/api/v1/jobs/"+itoa(queued))
	if !strings.Contains(body, "owner limit: carol has 1 job holding boards") || !strings.Contains(body, "machine drained: rewiring (m1)") {
		t.Errorf("waiting reason after a restart: %s", body)
	}
	var audit struct {
		Entries []struct{ By, Action, Target string } `json:"entries"`
	}
	_, body = testutil.HTTPGet(t, s.HTTP, "/api/v1/audit")
	if err := json.Unmarshal([]byte(body), &audit); err != nil || len(audit.Entries) != 1 ||
		audit.Entries[0].By != "alice" || audit.Entries[0].Action != "drain" || audit.Entries[0].Target != "machine m1" {
		t.Fatalf("audit after a restart: %s", body)
	}

	writeFile(t, cfgPath, config("bob")) // alice leaves, bob joins: no restart
	awaitWhoami(t, s.HTTP, "bob-token", http.StatusOK)
	awaitWhoami(t, s.HTTP, "alice-token", http.StatusUnauthorized)
	if code, body := testutil.HTTPDo(t, s.HTTP, http.MethodPost, "/api/v1/machines/m1/undrain", "", "bob-token"); code != 200 {
		t.Fatalf("undrain: %d %s", code, body)
	}

	for range 2 {
		if _, err := c.Call(ctxT(t), "report_problem", []any{"10.31.0.1"}, map[string]any{"description": "no reply"}); err != nil {
			t.Fatal(err)
		}
	}
	_, body = testutil.HTTPGet(t, s.HTTP, "/api/v1/machines/m0/boards/0/0/0")
	if !regexp.MustCompile(`"out_of_service":"2 problem reports within 1h: .*","out_of_service_at":[0-9.]+,"out_of_service_by":"server"`).MatchString(body) {
		t.Errorf("board after 2 reports: %s", body)
	}
	if st := state(t, c, running); st.State != client.StateReady {
		t.Errorf("the job on the sick board: %+v, want it kept", st)
	}
	if code := s.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d", code)
	}
}
