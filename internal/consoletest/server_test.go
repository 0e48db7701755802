package consoletest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// The admin tokens of the servers the tests start: the one of
// admin_token_file (named "operator") and alice's own.
const (
	adminToken = "console-test-token"
	aliceToken = "alice-secret-token"
)

// server is a running spallocd process: its dashboard and admin API at
// url, the v1 protocol at V1.
type server struct {
	*testutil.Server
	url    string // http://host:port
	config string // the configuration file
}

// startServer runs spallocd on a fresh database with the admin tokens and
// a configuration of settings (TOML tables such as [bmp]) and machines.
func startServer(t *testing.T, settings, machines string) *server {
	t.Helper()
	bins := testutil.Build(t)
	dir := t.TempDir()
	for file, token := range map[string]string{"admin-token": adminToken, "alice-token": aliceToken} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "spalloc.toml")
	testutil.WriteFile(t, config, "[server]\nadmin_token_file = \"admin-token\"\n\n"+
		"[[admin_token]]\nname = \"alice\"\nfile = \"alice-token\"\n\n"+settings+machines)
	srv := testutil.StartServer(t, bins, "--config", config, "--db", filepath.Join(dir, "spalloc.db"))
	return &server{Server: srv, url: "http://" + srv.HTTP, config: config}
}

// startDemo runs spallocd with the built-in demo's machines (a 4 x 2-triad
// machine with a dead board and a dead link, and a single board), served by
// fake BMPs inside the server.
func startDemo(t *testing.T) *server {
	t.Helper()
	return startServer(t, "", exampleMachines(t, "demo.toml", ""))
}

// exampleMachines is the [[machine]] tables of examples/<file>, with the
// files they name found in examples/, and fake BMPs (fakeBMP, such as
// "{}", added to each machine) unless the example has them already.
func exampleMachines(t *testing.T, file, fakeBMP string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "[[machine]]")
	if start < 0 {
		t.Fatalf("examples/%s has no [[machine]]", file)
	}
	text = strings.ReplaceAll(text[start:], `spinner_csv = "`, `spinner_csv = "`+dir+string(filepath.Separator))
	if fakeBMP != "" {
		text = strings.ReplaceAll(text, "[[machine]]\n", "[[machine]]\nfake_bmp = "+fakeBMP+"\n")
	}
	return text
}

// request sends an HTTP request to the server (body as JSON unless nil,
// with the admin token if token is set) and returns the status and body.
func (s *server) request(t *testing.T, method, path string, body any, token string) (int, []byte) {
	t.Helper()
	var text []byte
	if body != nil {
		var err error
		if text, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	code, reply := testutil.HTTPDo(t, s.HTTP, method, path, string(text), token)
	return code, []byte(reply)
}

// get reads path of the admin API (under /api/v1) into v.
func (s *server) get(t *testing.T, path string, v any) {
	t.Helper()
	code, body := s.request(t, http.MethodGet, "/api/v1"+path, nil, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// change sends a change to the admin API with an admin token.
func (s *server) change(t *testing.T, token, method, path string, body any) {
	t.Helper()
	if code, reply := s.request(t, method, "/api/v1"+path, body, token); code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, reply)
	}
}

// board is what the tests read of a board.
type board struct {
	Logical      [3]int  `json:"logical"`
	Physical     *[3]int `json:"physical"`
	State        string  `json:"state"`
	OutOfService *string `json:"out_of_service"`
	Power        bool    `json:"power"`
	PendingOps   int     `json:"pending_ops"`
	JobID        *int64  `json:"job_id"`
}

func (s *server) board(t *testing.T, machine string, b [3]int) board {
	t.Helper()
	var out board
	s.get(t, fmt.Sprintf("/machines/%s/boards/%d/%d/%d", machine, b[0], b[1], b[2]), &out)
	return out
}

// job is what the tests read of a job.
type job struct {
	State      string   `json:"state"`
	Reason     *string  `json:"reason"`
	ReadyAt    *float64 `json:"ready_at"`
	Boards     [][3]int `json:"boards"`
	PendingOps []any    `json:"pending_ops"`
}

func (s *server) job(t *testing.T, id int64) job {
	t.Helper()
	var out job
	s.get(t, fmt.Sprintf("/jobs/%d", id), &out)
	return out
}

// awaitJob polls job id until cond holds (BMP work takes a moment).
func (s *server) awaitJob(t *testing.T, id int64, what string, cond func(job) bool) job {
	t.Helper()
	var j job
	eventually(t, fmt.Sprintf("job %d %s", id, what), func() bool { j = s.job(t, id); return cond(j) })
	return j
}

func ready(j job) bool { return j.ReadyAt != nil && j.State == "ready" && len(j.PendingOps) == 0 }

// emergencyStopped says whether an emergency stop is in force.
func (s *server) emergencyStopped(t *testing.T) bool {
	t.Helper()
	var st struct {
		Stopped bool `json:"stopped"`
	}
	s.get(t, "/emergency_stop", &st)
	return st.Stopped
}

// eventually polls a server-side condition for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, what, cond)
}

func (s *server) dial(t *testing.T) *client.Client { return testutil.Dial(t, s.V1) }

func createJob(t *testing.T, c *client.Client, args []any, kwargs map[string]any) int64 {
	t.Helper()
	id, err := c.CreateJob(testutil.Ctx(t), args, kwargs)
	if err != nil {
		t.Fatalf("create_job %v %v: %v", args, kwargs, err)
	}
	return id
}
