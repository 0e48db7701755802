package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spalloc/spallocd/tcpserver/client"
)

// The end-to-end tests build and run the real binaries: spallocd, and
// fakebmp as a separate process standing in for a frame's BMP.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) (spallocd, fakebmp string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds binaries; skipped with -short")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "spallocd-e2e-bin")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{".", "../fakebmp"} {
			out, err := exec.Command("go", "build", "-o", binDir, pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "spallocd"), filepath.Join(binDir, "fakebmp")
}

// proc is a running child process whose output is scanned for a line.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder
	lines chan string
	done  chan struct{}
}

func startProc(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd with its output scanned.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	name, args := cmd.Path, cmd.Args[1:]
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s %v:\n%s", filepath.Base(name), args, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// await returns the first submatch of re in the process's output.
func (p *proc) await(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	return p.awaitAll(t, re)[1]
}

// awaitAll returns the match of re and its submatches in the next line of
// the process's output that matches.
func (p *proc) awaitAll(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-p.done:
			t.Fatalf("process exited before printing %v", re)
		case <-deadline:
			t.Fatalf("no line matching %v", re)
		}
	}
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("spallocd did not stop within 15 s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("spallocd exited with %d after SIGTERM", code)
	}
}

var (
	protoLine = regexp.MustCompile(`v1 protocol on (\S+),`)
	fakeLine  = regexp.MustCompile(`fakebmp listening on (\S+)`)
)

func startFakeBMP(t *testing.T, fakebmp string, powerDelay time.Duration) string {
	t.Helper()
	p := startProc(t, nil, fakebmp, "--listen", "127.0.0.1:0", "--power-delay", powerDelay.String())
	return p.await(t, fakeLine)
}

func startServer(t *testing.T, spallocd string, args ...string) (*proc, string) {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	p := startProc(t, nil, spallocd, args...)
	return p, p.await(t, protoLine)
}

func dial(t *testing.T, addr string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

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
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := state(t, c, id)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: state %d, want %d", id, st.State, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
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

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

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
	proto := p.await(t, protoLine)
	return &demoServer{proc: p, proto: proto, http: p.await(t, httpLine), state: state}
}
