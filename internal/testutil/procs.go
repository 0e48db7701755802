package testutil

// Helpers that build and run the real programs (spallocd, fakebmp) as
// separate processes, for end-to-end and fault tests.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spalloc/spallocd/tcpserver/client"
)

// Binaries are the programs built for this test run.
type Binaries struct {
	Spallocd, FakeBMP string
}

var built struct {
	once sync.Once
	dir  string
	bins Binaries
	err  error
}

// RunMain runs a package's tests and then removes the binaries they built;
// call it from TestMain: os.Exit(testutil.RunMain(m)).
func RunMain(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// Build builds spallocd and fakebmp once per test binary (go build, without
// the race detector: the processes are under test, not instrumented) and
// returns their paths. With -short the test is skipped. Packages that use it
// should remove the binaries with RunMain.
func Build(t testing.TB) Binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binaries; skipped with -short")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "spallocd-test-bin-")
		if built.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", built.dir+string(filepath.Separator),
			"github.com/spalloc/spallocd/cmd/spallocd", "github.com/spalloc/spallocd/cmd/fakebmp")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.bins = Binaries{
			Spallocd: filepath.Join(built.dir, "spallocd"),
			FakeBMP:  filepath.Join(built.dir, "fakebmp"),
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bins
}

// Proc is a running child process whose output (stdout and stderr
// together) is kept and can be waited for line by line.
type Proc struct {
	Cmd  *exec.Cmd
	name string

	mu      sync.Mutex
	lines   []string
	next    int           // Await looks from this line on
	changed chan struct{} // closed and replaced when a line arrives or the process ends
	done    chan struct{} // closed when the process has exited and its output is read
}

// StartProc starts a program with env added to this process's environment.
// It is killed when the test ends; its output is logged if the test failed.
func StartProc(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return StartCmd(t, cmd)
}

// StartCmd starts cmd (set up as the test needs: credentials, folder) with
// its output kept, as StartProc does.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd, name: filepath.Base(cmd.Path), changed: make(chan struct{}), done: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.addLine(sc.Text())
		}
		io.Copy(io.Discard, pr) // an overlong line: keep the child from blocking
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		<-scanned
		close(p.done)
		p.notify()
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", p.name, strings.Join(cmd.Args[1:], " "), p.Output())
		}
	})
	return p
}

func (p *Proc) addLine(line string) {
	p.mu.Lock()
	p.lines = append(p.lines, line)
	p.mu.Unlock()
	p.notify()
}

func (p *Proc) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Output is everything the process has printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// PID is the process id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Await waits up to 60 s for the next line matching re (after the lines
// earlier awaits matched) and returns its first submatch, or the whole
// match if re has no group. It fails the test if the process exits first.
func (p *Proc) Await(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	m := p.AwaitAll(t, re)
	return m[min(1, len(m)-1)]
}

// AwaitAll is Await returning the match and all its submatches.
func (p *Proc) AwaitAll(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		lines, from, changed := p.lines, p.next, p.changed
		for i := from; i < len(lines); i++ {
			if m := re.FindStringSubmatch(lines[i]); m != nil {
				p.next = i + 1
				p.mu.Unlock()
				return m
			}
		}
		p.next = len(lines)
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			if p.moreLines(len(lines)) {
				continue
			}
			t.Fatalf("%s exited (%v) before printing a line matching %v", p.name, p.Cmd.ProcessState, re)
		case <-deadline:
			t.Fatalf("%s printed no line matching %v within 60 s", p.name, re)
		}
	}
}

func (p *Proc) moreLines(seen int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines) > seen
}

// Wait waits up to timeout for the process to exit by itself and returns
// its exit code; it fails the test if it does not exit in time.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", p.name, timeout)
		return -1
	}
}

// Stop sends SIGTERM and waits up to 15 s for the process to exit; it
// returns the exit code.
func (p *Proc) Stop(t testing.TB) int {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	return p.Wait(t, 15*time.Second)
}

// Kill kills the process (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

var (
	v1Line   = regexp.MustCompile(`v1 protocol on (\S+),`)
	httpLine = regexp.MustCompile(`admin API on http://([^/\s]+)/`)
	fakeLine = regexp.MustCompile(`fakebmp listening on (\S+)`)
)

// Server is a running spallocd process.
type Server struct {
	*Proc
	V1   string // v1 protocol address
	HTTP string // admin API address; "" if disabled
}

// StartServer runs spallocd with args and waits until it serves. Unless args
// say otherwise, it listens on free loopback ports for the v1 protocol and
// HTTP; XDG_STATE_HOME points into a temporary folder, so that a server
// without --db never touches the user's demo database.
func StartServer(t testing.TB, bins Binaries, args ...string) *Server {
	t.Helper()
	p := StartServerProc(t, bins, args...)
	s := &Server{Proc: p, V1: p.Await(t, v1Line)}
	if !hasFlag(args, "--http") || flagValue(args, "--http") != "" {
		s.HTTP = p.Await(t, httpLine)
	}
	return s
}

// StartServerProc runs spallocd like StartServer but does not wait for it:
// for servers that are expected to refuse to start.
func StartServerProc(t testing.TB, bins Binaries, args ...string) *Proc {
	t.Helper()
	if !hasFlag(args, "--listen") {
		args = append(args, "--listen", "127.0.0.1:0")
	}
	if !hasFlag(args, "--http") {
		args = append(args, "--http", "127.0.0.1:0")
	}
	env := []string{"XDG_STATE_HOME=" + t.TempDir()}
	return StartProc(t, env, bins.Spallocd, args...)
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// StartFakeBMP runs a fakebmp process on a free loopback port with extra
// args (e.g. "--power-delay", "1s") and returns its address.
func StartFakeBMP(t testing.TB, bins Binaries, args ...string) string {
	t.Helper()
	p := StartProc(t, nil, bins.FakeBMP, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	return p.Await(t, fakeLine)
}

// Dial opens a v1 protocol client, closed when the test ends.
func Dial(t testing.TB, addr string) *client.Client {
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

// Ctx is a context that ends after 30 s or with the test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// HTTPGet fetches http://addr+path and returns the status and body; a
// transport error fails the test.
func HTTPGet(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	return HTTPDo(t, addr, http.MethodGet, path, "", "")
}

// HTTPDo sends a request with body ("" = none) to http://addr+path, with
// token as its bearer token ("" = none), and returns the status and body;
// a transport error fails the test.
func HTTPDo(t testing.TB, addr, method, path, body, token string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(Ctx(t), method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, string(out)
}

// FastTOML is the [server] and [bmp] settings of a server that notices
// things quickly: keepalives checked every 100 ms, short BMP time-outs, no
// wait after a power-on. It ends inside [bmp], so more [bmp] keys may
// follow it.
const FastTOML = `[server]
keepalive_check_interval = "100ms"
[bmp]
timeout = "200ms"
post_power_on_delay = "0s"
request_retry_delay = "500ms"
`

// MachineTOML is a [[machine]] of width x 1 triads (3 boards a triad) whose
// one BMP is at bmpAddr (e.g. a fakebmp process, or a proxy in front of
// one); board IPs are ipPrefix.1, ipPrefix.2, ...
func MachineTOML(name string, width int, bmpAddr, ipPrefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[machine]]\nname = %q\nwidth = %d\nheight = 1\n", name, width)
	fmt.Fprintf(&b, "bmps = [{ cf = [0, 0], ip = %q }]\nboards = [\n", bmpAddr)
	n := 0
	for x := range width {
		for z := range 3 {
			fmt.Fprintf(&b, "  { xyz = [%d, 0, %d], cfb = [0, 0, %d], ip = \"%s.%d\" },\n", x, z, n, ipPrefix, n+1)
			n++
		}
	}
	b.WriteString("]\n")
	return b.String()
}

// WriteFile writes text to path atomically (a temporary file renamed), as
// an editor saving a configuration does.
func WriteFile(t testing.TB, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
