package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// TestDemoDefaults: the README's `go run ./cmd/spallocd` serves the v1
// protocol on 127.0.0.1:22244 and the dashboard on 127.0.0.1:22245.
func TestDemoDefaults(t *testing.T) {
	s := config.Demo().Server
	if s.Listen != "127.0.0.1:22244" || s.HTTP != "127.0.0.1:22245" {
		t.Errorf("demo listens on %s and %s, want 127.0.0.1:22244 and 127.0.0.1:22245", s.Listen, s.HTTP)
	}
}

var (
	hintLine = regexp.MustCompile(`try the spalloc client \(pip install spalloc\): (spalloc .*)$`)
	curlLine = regexp.MustCompile(`^\s+(curl .*)$`)
)

// TestFirstStepsWorkAsPrinted follows what the demo prints on start-up: the
// spalloc command line is parsed as the spalloc tool parses it and sent as
// the tool sends it (the lines of the real client's recordings in
// tcpserver/testdata/transcripts), and the curl lines run as printed with
// the admin token the demo created.
func TestFirstStepsWorkAsPrinted(t *testing.T) {
	spallocd, _ := binaries(t)
	demo := startDemo(t, spallocd)
	hint := demo.Await(t, hintLine)
	var curls []string
	for len(curls) < 2 {
		curls = append(curls, demo.Await(t, curlLine))
	}

	t.Run("spalloc hint", func(t *testing.T) {
		cli := parseSpallocArgs(t, strings.Fields(hint)[1:])
		addr := cli.flags["--hostname"] + ":" + cli.flags["--port"]
		if addr != demo.proto {
			t.Fatalf("the hint points at %s, the server listens on %s", addr, demo.proto)
		}
		runLikeSpallocTool(t, dial(t, addr), cli)
	})

	t.Run("admin token", func(t *testing.T) {
		path := filepath.Join(demo.state, "spallocd", "admin-token")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("the demo made no admin token: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("admin token mode %v, want 0600", fi.Mode().Perm())
		}
		if !strings.Contains(curls[0], path) {
			t.Errorf("the curl line %q does not read the token from %s", curls[0], path)
		}
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed: the printed curl lines cannot be run here")
		}
		for i, want := range []string{"out_of_service", "free"} {
			out, err := exec.Command("bash", "-c", curls[i]+" --silent --show-error --fail").CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", curls[i], err, out)
			}
			var board struct{ State string }
			if err := json.Unmarshal(out, &board); err != nil || board.State != want {
				t.Errorf("%s answered %s (%v); want the board in state %q", curls[i], out, err, want)
			}
		}
	})
}

// spallocArgs is a spalloc command line: its flags with values and its
// positional numbers.
type spallocArgs struct {
	flags map[string]string
	args  []any
}

// parseSpallocArgs reads the options of the spalloc tool that take a value;
// the tool refuses to run without --owner (when no .spallocrc names one).
func parseSpallocArgs(t *testing.T, words []string) spallocArgs {
	t.Helper()
	cli := spallocArgs{flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "--") {
			if i+1 == len(words) {
				t.Fatalf("%s has no value", w)
			}
			cli.flags[w] = words[i+1]
			i++
			continue
		}
		n, err := strconv.Atoi(w)
		if err != nil {
			t.Fatalf("spalloc positional argument %q is not a number", w)
		}
		cli.args = append(cli.args, n)
	}
	for _, f := range []string{"--hostname", "--port", "--owner"} {
		if cli.flags[f] == "" {
			t.Fatalf("the hint gives no %s: spalloc would fail", f)
		}
	}
	return cli
}

// runLikeSpallocTool sends what spalloc 7.x sends for a job: version, then
// create_job with the tool's default keyword arguments, then polls until
// the job is ready, reads where it is and destroys it.
func runLikeSpallocTool(t *testing.T, c *client.Client, cli spallocArgs) {
	t.Helper()
	call := func(line string) json.RawMessage {
		t.Helper()
		reply, err := c.RoundTrip(ctxT(t), []byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var r struct {
			Return    json.RawMessage `json:"return"`
			Exception *string         `json:"exception"`
		}
		if err := json.Unmarshal(reply, &r); err != nil || r.Exception != nil {
			t.Fatalf("%s answered %s", line, reply)
		}
		return r.Return
	}
	call(`{"command": "version", "args": [], "kwargs": {}}`)
	args, _ := json.Marshal(cli.args)
	owner, _ := json.Marshal(cli.flags["--owner"])
	id := string(call(`{"command": "create_job", "args": ` + string(args) + `, "kwargs": {"owner": ` + string(owner) +
		`, "keepalive": 60.0, "machine": null, "tags": ["default"], "min_ratio": 0.333, "max_dead_boards": 0, "max_dead_links": null, "require_torus": false}}`))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct{ State int }
		json.Unmarshal(call(`{"command": "get_job_state", "args": [`+id+`], "kwargs": {}}`), &st)
		if st.State == client.StateReady {
			break
		}
		if st.State != client.StateQueued && st.State != client.StatePower || time.Now().After(deadline) {
			t.Fatalf("job %s in state %d, want it ready", id, st.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var info struct{ Boards [][3]int }
	json.Unmarshal(call(`{"command": "get_job_machine_info", "args": [`+id+`], "kwargs": {}}`), &info)
	if len(info.Boards) != 1 {
		t.Errorf("job %s got boards %v, want one", id, info.Boards)
	}
	call(`{"command": "destroy_job", "args": [` + id + `, null], "kwargs": {}}`)
}
