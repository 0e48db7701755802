package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// The end-to-end tests build and run the real binaries: spallocd, and
// fakebmp as a separate process standing in for a frame's BMP. The helpers
// below are short names for those of internal/testutil.

func TestMain(m *testing.M) { os.Exit(testutil.RunMain(m)) }

func binaries(t *testing.T) (spallocd, fakebmp string) {
	b := testutil.Build(t)
	return b.Spallocd, b.FakeBMP
}

// proc is a running child process whose output is scanned for a line.
type proc struct{ *testutil.Proc }

func startProc(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd with its output scanned.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := testutil.StartCmd(t, cmd)
	return &proc{p}
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if code := p.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d after SIGTERM", code)
	}
}

var protoLine = regexp.MustCompile(`v1 protocol on (\S+),`)

func startFakeBMP(t *testing.T, fakebmp string, powerDelay time.Duration) string {
	t.Helper()
	return testutil.StartFakeBMP(t, testutil.Binaries{FakeBMP: fakebmp}, "--power-delay", powerDelay.String())
}

func startServer(t *testing.T, spallocd string, args ...string) (*proc, string) {
	t.Helper()
	s := testutil.StartServer(t, testutil.Binaries{Spallocd: spallocd}, args...)
	return &proc{s.Proc}, s.V1
}

func dial(t *testing.T, addr string) *client.Client { return testutil.Dial(t, addr) }

func ctxT(t *testing.T) context.Context { return testutil.Ctx(t) }

func createJob(t *testing.T, c *client.Client, args ...any) int64 {
	t.Helper()
	id, err := c.CreateJob(ctxT(t), args, map[string]any{"owner": "e2e", "keepalive": nil})
	if err != nil {
		t.Fatalf("create_job%v: %v", args, err)
	}
	return id
}

func state(t *testing.T, c *client.Client, id int64) client.JobState {
	t.Helper()
	st, err := c.GetJobState(ctxT(t), id)
	if err != nil {
		t.Fatalf("get_job_state(%d): %v", id, err)
	}
	return st
}

// awaitState polls until the job reaches want.
func awaitState(t *testing.T, c *client.Client, id int64, want int) client.JobState {
	t.Helper()
	var st client.JobState
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("job %d reaches state %d", id, want), func() bool {
		st = state(t, c, id)
		return st.State == want
	})
	return st
}

// snapshot is what a client can see of every job: state, reason, boards.
type jobView struct {
	State  int
	Reason string
	Boards string
}

func snapshot(t *testing.T, c *client.Client, ids []int64) map[int64]jobView {
	t.Helper()
	out := map[int64]jobView{}
	for _, id := range ids {
		st := state(t, c, id)
		v := jobView{State: st.State}
		if st.Reason != nil {
			v.Reason = *st.Reason
		}
		info, err := c.GetJobMachineInfo(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		v.Boards = boardsKey(info.Boards)
		out[id] = v
	}
	return out
}

func boardsKey(boards [][3]int) string {
	var s []string
	for _, b := range boards {
		s = append(s, fmt.Sprint(b))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// assertNoBoardInTwoJobs checks list_jobs: no board is held by two live jobs.
func assertNoBoardInTwoJobs(t *testing.T, c *client.Client) {
	t.Helper()
	jobs, err := c.ListJobs(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	holder := map[string]int64{}
	for _, j := range jobs {
		for _, b := range j.Boards {
			key := fmt.Sprintf("%v/%v", j.AllocatedMachineName, b)
			if j.AllocatedMachineName != nil {
				key = *j.AllocatedMachineName + fmt.Sprint(b)
			}
			if other, ok := holder[key]; ok {
				t.Fatalf("board %s held by jobs %d and %d", key, other, j.JobID)
			}
			holder[key] = j.JobID
		}
	}
}

func writeFile(t *testing.T, path, text string) { testutil.WriteFile(t, path, text) }

// demoServer is a running built-in demo with its own state folder.
type demoServer struct {
	*proc
	proto, http string // listening addresses
	state       string // $XDG_STATE_HOME
}

var httpLine = regexp.MustCompile(`admin API on http://(\S+)/`)

// startDemo runs spallocd with no configuration on free ports and a fresh
// state folder, extra arguments appended.
func startDemo(t *testing.T, spallocd string, args ...string) *demoServer {
	t.Helper()
	state := t.TempDir()
	args = append([]string{"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)
	p := startProc(t, []string{"XDG_STATE_HOME=" + state}, spallocd, args...)
	proto := p.Await(t, protoLine)
	return &demoServer{proc: p, proto: proto, http: p.Await(t, httpLine), state: state}
}
