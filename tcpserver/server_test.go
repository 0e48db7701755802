package tcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/tcpserver/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testServer struct {
	*Server
	addr     string
	logs     *testutil.LogBuffer
	serveErr chan error
}

// listenerFunc lets a test adjust accepted connections.
type listenerFunc struct {
	net.Listener
	onAccept func(net.Conn)
}

func (l listenerFunc) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.onAccept != nil {
		l.onAccept(c)
	}
	return c, err
}

// startFake serves a fake backend (and optionally a fake feed) on a
// loopback port; the server is shut down when the test ends.
func startFake(t *testing.T, b backend, feed *fakeFeed, opts Options, onAccept func(net.Conn)) *testServer {
	t.Helper()
	logs := &testutil.LogBuffer{}
	if opts.Logger == nil {
		opts.Logger = logs.Logger()
	}
	s := newServer(b, opts)
	if feed != nil {
		s.subscribe = func() changeFeed { return feed }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: ln.Addr().String(), logs: logs, serveErr: make(chan error, 1)}
	go func() { ts.serveErr <- s.Serve(context.Background(), listenerFunc{ln, onAccept}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// rawConn is a line-level test client.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawConn) write(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one line (without the newline); it fails the test after 10 s.
func (c *rawConn) line() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (partial %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// eof waits for the server to close the connection.
func (c *rawConn) eof() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil && !isReset(err) {
		c.t.Fatalf("waiting for the server to close: %v (read %q)", err, rest)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// PROTO-01: replies in order; several requests per segment; a request split
// across segments is answered once complete.
func TestFraming(t *testing.T) {
	f := &fakeBackend{}
	ts := startFake(t, f, nil, Options{}, nil)
	c := dialRaw(t, ts.addr)

	c.write(`{"command":"version"}` + "\n" + `{"command":"job_keepalive","args":[5]}` + "\n" + `{"command":"nope"}` + "\n")
	for _, want := range []string{`{"return":"1.0.0"}`, `{"return":null}`, `{"exception":"unknown command \"nope\""}`} {
		if got := c.line(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}

	c.write(`{"command":"get_job_`)
	c.write(`state","args":[1]}` + "\r\n")
	if got := c.line(); !strings.HasPrefix(got, `{"return":{"state":0`) {
		t.Fatalf("split request: got %s", got)
	}
	if calls := f.Calls(); calls[len(calls)-1] != "JobState 1 127.0.0.1" {
		t.Fatalf("calls %q", calls)
	}
}

// PROTO-12 and PROTO-17: malformed lines get an exception and the
// connection stays usable; other clients are not disturbed.
func TestMalformedLinesKeepTheConnection(t *testing.T) {
	ts := startFake(t, &fakeBackend{}, nil, Options{}, nil)
	c := dialRaw(t, ts.addr)
	other := dialRaw(t, ts.addr)
	for _, line := range []string{`{`, `[1,2]`, `{}`, `{"command":123}`, `{"command":"no such command"}`,
		`{"command":"version","args":"hoho"}`, `{"command":"version","kwargs":"hoho"}`, "\xff\xfe", `null`} {
		c.write(line + "\n")
		got := c.line()
		var reply map[string]any
		if err := json.Unmarshal([]byte(got), &reply); err != nil {
			t.Fatalf("%q: reply %q is not JSON", line, got)
		}
		if msg, ok := reply["exception"].(string); !ok || msg == "" || len(reply) != 1 {
			t.Fatalf("%q: reply %s, want one non-empty exception", line, got)
		}
		c.write(`{"command":"version"}` + "\n")
		if got := c.line(); got != `{"return":"1.0.0"}` {
			t.Fatalf("after %q: version gave %s", line, got)
		}
	}
	other.write(`{"command":"version"}` + "\n")
	if got := other.line(); got != `{"return":"1.0.0"}` {
		t.Fatalf("other client: %s", got)
	}
}

func TestOversizedLineDisconnects(t *testing.T) {
	ts := startFake(t, &fakeBackend{}, nil, Options{MaxLineBytes: 100}, nil)
	c := dialRaw(t, ts.addr)
	ok := `{"command":"version","pad":"` + strings.Repeat("x", 100-30) + `"}`
	if len(ok) != 100 {
		t.Fatalf("test line is %d bytes", len(ok))
	}
	c.write(ok + "\n")
	if got := c.line(); got != `{"return":"1.0.0"}` {
		t.Fatalf("a line of exactly the limit: %s", got)
	}
	c.write(`{"command":"version","pad":"` + strings.Repeat("y", 5000) + "\"}\n")
	if got := c.line(); !strings.Contains(got, "longer than 100 bytes") {
		t.Fatalf("got %s", got)
	}
	c.eof()
	if !strings.Contains(ts.logs.String(), "request line too long") {
		t.Fatalf("not logged: %s", ts.logs.String())
	}
	wantServing(t, ts.addr) // others are unaffected
}

// wantServing checks that a new client is served.
func wantServing(t *testing.T, addr string) {
	t.Helper()
	d := dialRaw(t, addr)
	d.write(`{"command":"version"}` + "\n")
	if got := d.line(); got != `{"return":"1.0.0"}` {
		t.Fatalf("a new client got %s", got)
	}
}

// A client that sends requests but never reads is disconnected once its
// unread output passes MaxOutBuffer, and this is logged.
func TestClientThatDoesNotReadIsDisconnected(t *testing.T) {
	ts := startFake(t, longJobList(), nil, Options{MaxOutBuffer: 64 << 10, WriteTimeout: time.Minute}, smallWriteBuffer)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)

	// Each reply is ~150 KB; the kernel buffers hold a few of them at most.
	var sendErr error
	for range 200 {
		if _, sendErr = nc.Write([]byte(`{"command":"list_jobs"}` + "\n")); sendErr != nil {
			break
		}
	}
	// Now read: the server must have given up before answering everything.
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	replies := 0
	r := bufio.NewReaderSize(nc, 1<<20)
	for {
		if _, err := r.ReadSlice('\n'); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) || isReset(err) {
				break
			}
			t.Fatalf("read: %v", err)
		}
		replies++
	}
	if replies >= 200 {
		t.Fatalf("all %d replies arrived; the client was not disconnected", replies)
	}
	if !strings.Contains(ts.logs.String(), "does not read its replies") {
		t.Fatalf("not logged: %s", ts.logs.String())
	}
}

// A write blocked longer than WriteTimeout disconnects the client.
func TestWriteTimeoutDisconnects(t *testing.T) {
	f := &fakeBackend{}
	for i := range 5000 {
		f.jobs = append(f.jobs, service.JobSummary{ID: int64(i), Owner: "someone@example.org"})
	}
	small := func(nc net.Conn) { _ = nc.(*net.TCPConn).SetWriteBuffer(4096) }
	ts := startFake(t, f, nil, Options{WriteTimeout: 50 * time.Millisecond}, small)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := nc.Write([]byte(`{"command":"list_jobs"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	// Do not read until the server has given up.
	testutil.WaitFor(t, func() bool { return strings.Contains(ts.logs.String(), "write to client timed out") })
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	if bytes.Count(got, []byte("\n")) != 0 {
		t.Fatalf("the whole reply arrived (%d bytes)", len(got))
	}
}

// Notifications go only to connections that watch them, one message per
// kind per round, never an empty list, between replies as separate lines.
func TestNotificationsAreFiltered(t *testing.T) {
	feed := newFakeFeed()
	ts := startFake(t, &fakeBackend{}, feed, Options{}, nil)
	ctx := context.Background()
	all, err := client.Dial(ctx, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	one, err := client.Dial(ctx, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	must(t, all.NotifyJob(ctx, nil))
	must(t, all.NotifyMachine(ctx, nil))
	must(t, one.NotifyJob(ctx, ptr[int64](2)))
	must(t, one.NotifyMachine(ctx, ptr("m3")))

	feed.Publish(service.Change{Jobs: []int64{3, 1, 3}, Machines: []string{"spinn-4x2"}})
	feed.Publish(service.Change{Jobs: []int64{2}, Machines: []string{"m3", "board-a"}, BMPs: []int64{1}})
	// Either one round or two, depending on when the hub took them.
	gotJobs, gotMachines := collect(t, all, 4, []int64{1, 2, 3}, []string{"board-a", "m3", "spinn-4x2"})
	if len(gotJobs) == 0 || len(gotMachines) == 0 {
		t.Fatal("nothing received")
	}
	n := next(t, one)
	if fmt.Sprint(n.JobsChanged) != "[2]" {
		t.Fatalf("one: first notification %+v, want jobs [2]", n)
	}
	n = next(t, one)
	if fmt.Sprint(n.MachinesChanged) != "[m3]" {
		t.Fatalf("one: second notification %+v, want machines [m3]", n)
	}

	// A round with nothing watched sends nothing: the next message "one"
	// sees is about the round after.
	feed.Publish(service.Change{Jobs: []int64{7}, Machines: []string{"other"}})
	feed.Publish(service.Change{Jobs: []int64{2}})
	if n := next(t, one); fmt.Sprint(n.JobsChanged) != "[2]" || n.MachinesChanged != nil {
		t.Fatalf("one: got %+v, want jobs [2] only", n)
	}

	// Unsubscribing stops them.
	must(t, one.NoNotifyJob(ctx, nil))
	feed.Publish(service.Change{Jobs: []int64{2}})
	feed.Publish(service.Change{Machines: []string{"m3"}})
	if n := next(t, one); n.JobsChanged != nil || fmt.Sprint(n.MachinesChanged) != "[m3]" {
		t.Fatalf("after no_notify_job: got %+v", n)
	}
}

// collect reads up to max notifications until every wanted id and name
// has been seen; each must be non-empty and only hold wanted values.
func collect(t *testing.T, c *client.Client, max int, jobs []int64, machines []string) (map[int64]bool, map[string]bool) {
	t.Helper()
	gotJobs, gotMachines := map[int64]bool{}, map[string]bool{}
	for i := 0; i < max && (len(gotJobs) < len(jobs) || len(gotMachines) < len(machines)); i++ {
		n := next(t, c)
		if (n.JobsChanged == nil) == (n.MachinesChanged == nil) {
			t.Fatalf("notification %+v does not hold exactly one list", n)
		}
		for _, id := range n.JobsChanged {
			gotJobs[id] = true
		}
		for _, m := range n.MachinesChanged {
			gotMachines[m] = true
		}
	}
	if fmt.Sprint(keys(gotJobs)) != fmt.Sprint(jobs) || fmt.Sprint(keys(gotMachines)) != fmt.Sprint(machines) {
		t.Fatalf("got jobs %v machines %v, want %v %v", keys(gotJobs), keys(gotMachines), jobs, machines)
	}
	return gotJobs, gotMachines
}

func keys[K int64 | string](m map[K]bool) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func next(t *testing.T, c *client.Client) client.Notification {
	t.Helper()
	select {
	case n, ok := <-c.Notifications():
		if !ok {
			t.Fatal("connection closed while waiting for a notification")
		}
		if len(n.JobsChanged) == 0 && len(n.MachinesChanged) == 0 {
			t.Fatalf("empty notification %+v", n)
		}
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
	}
	return client.Notification{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// PROTO-15, on the watches themselves.
func TestWatchBookkeeping(t *testing.T) {
	ch := service.Change{Jobs: []int64{123, 321, 5}, Machines: []string{"a", "b"}}
	tests := []struct {
		name     string
		steps    func(w *watches)
		jobs     string
		machines string
	}{
		{"nothing", func(w *watches) {}, "[]", "[]"},
		{"all, then drop one: still all", func(w *watches) {
			w.job(true, nil)
			w.job(false, ptr[int64](321))
		}, "[123 321 5]", "[]"},
		{"two, drop one", func(w *watches) {
			w.job(true, ptr[int64](123))
			w.job(true, ptr[int64](321))
			w.job(false, ptr[int64](123))
		}, "[321]", "[]"},
		{"two, drop both", func(w *watches) {
			w.job(true, ptr[int64](123))
			w.job(true, ptr[int64](321))
			w.job(false, ptr[int64](123))
			w.job(false, ptr[int64](321))
		}, "[]", "[]"},
		{"drop all ends ids and all", func(w *watches) {
			w.job(true, ptr[int64](5))
			w.job(true, nil)
			w.job(false, nil)
		}, "[]", "[]"},
		{"unsubscribe when not subscribed", func(w *watches) {
			w.job(false, ptr[int64](5))
			w.machine(false, nil)
		}, "[]", "[]"},
		{"one while all stays all", func(w *watches) {
			w.job(true, nil)
			w.job(true, ptr[int64](5))
		}, "[123 321 5]", "[]"},
		{"machines by name", func(w *watches) {
			w.machine(true, ptr("b"))
			w.machine(true, ptr("zz"))
		}, "[]", "[b]"},
		{"machines all then one off", func(w *watches) {
			w.machine(true, nil)
			w.machine(false, ptr("a"))
		}, "[]", "[a b]"},
		{"machines off", func(w *watches) {
			w.machine(true, ptr("a"))
			w.machine(false, nil)
		}, "[]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w watches
			tt.steps(&w)
			jobs, machines := w.filter(&ch)
			if fmt.Sprint(jobs) != tt.jobs || fmt.Sprint(machines) != tt.machines {
				t.Fatalf("jobs %v machines %v, want %s %s", jobs, machines, tt.jobs, tt.machines)
			}
			if got := notificationLines(nil, jobs, machines); len(jobs)+len(machines) == 0 && len(got) != 0 {
				t.Fatalf("sent %q for nothing", got)
			}
		})
	}
}

// A destroyed job is notified once more, then forgotten by connections
// that watch it by id; the others stay watched.
func TestDestroyedJobsAreNotifiedThenForgotten(t *testing.T) {
	var w watches
	for _, id := range []int64{1, 2, 3} {
		w.job(true, &id)
	}
	var got [][]int64
	send := func(jobs []int64, _ []string) { got = append(got, jobs) }
	w.deliver(&service.Change{Jobs: []int64{1, 2}, Ended: []int64{2}}, send)
	w.deliver(&service.Change{Jobs: []int64{1, 2, 3}}, send)
	if fmt.Sprint(got) != "[[1 2] [1 3]]" {
		t.Fatalf("notified %v, want [[1 2] [1 3]]", got)
	}
	if len(w.jobs) != 2 {
		t.Fatalf("%d jobs watched after job 2 ended, want 2", len(w.jobs))
	}
}

// serveGated serves a backend whose calls wait at its gate until the test
// opens it; it returns the backend, the server, its address and what Serve
// returns.
func serveGated(t *testing.T) (*fakeBackend, *Server, string, <-chan error) {
	t.Helper()
	f := &fakeBackend{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	s := newServer(f, Options{Logger: quietLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background(), ln) }()
	return f, s, ln.Addr().String(), serveErr
}

// Shutdown lets the request in progress finish and its reply go out, then
// closes the connection; new connections are refused.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	f, s, addr, serveErr := serveGated(t)

	c := dialRaw(t, addr)
	c.write(`{"command":"get_job_state","args":[4]}` + "\n" + `{"command":"version"}` + "\n")
	<-f.entered

	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- s.Shutdown(context.Background()) }()
	if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if nc, err := net.Dial("tcp", addr); err == nil {
		nc.Close()
		t.Fatal("a new connection was accepted during shutdown")
	}
	close(f.gate)
	if got := c.line(); !strings.HasPrefix(got, `{"return":{"state":0`) {
		t.Fatalf("in-flight reply: %s", got)
	}
	c.eof() // the pipelined version request is not run
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// A Shutdown whose context ends closes everything at once.
func TestShutdownDeadline(t *testing.T) {
	f, s, addr, serveErr := serveGated(t)
	c := dialRaw(t, addr)
	c.write(`{"command":"get_job_state","args":[4]}` + "\n")
	<-f.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	c.eof()
	<-serveErr
}

// Cancelling Serve's context stops the server and every connection.
func TestServeContextCancel(t *testing.T) {
	feed := newFakeFeed()
	s := newServer(&fakeBackend{}, Options{Logger: quietLogger()})
	s.subscribe = func() changeFeed { return feed }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(ctx, ln) }()
	c := dialRaw(t, ln.Addr().String())
	c.write(`{"command":"version"}` + "\n")
	c.line()
	if s.Addr() == nil {
		t.Fatal("Addr is nil while serving")
	}
	cancel()
	if err := <-serveErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v", err)
	}
	c.eof()
	if !feed.Closed() {
		t.Fatal("the change feed subscription was not closed")
	}
}

// A panic while handling a request (a bug) ends that connection with an
// exception, is logged, and leaves the server serving others.
func TestPanicEndsOnlyThatConnection(t *testing.T) {
	ts := startFake(t, &fakeBackend{panicky: true}, nil, Options{}, nil)
	c := dialRaw(t, ts.addr)
	c.write(`{"command":"list_machines"}` + "\n" + `{"command":"version"}` + "\n")
	if got := c.line(); got != `{"exception":"internal server error"}` {
		t.Fatalf("got %s", got)
	}
	c.eof()
	if !strings.Contains(ts.logs.String(), "panic while handling a request") {
		t.Fatalf("not logged: %s", ts.logs.String())
	}
	wantServing(t, ts.addr)
}

// A client that stops sending while the hub is writing its notifications
// is closed once they are written, and the server shuts down at once
// afterwards. (A writer that missed the end of a notification write would
// wait for ever.)
func TestHangUpWhileNotified(t *testing.T) {
	feed := newFakeFeed()
	s := newServer(&fakeBackend{}, Options{Logger: quietLogger()})
	s.subscribe = func() changeFeed { return feed }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(context.Background(), ln) }()

	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
				feed.Publish(service.Change{Jobs: []int64{i}})
				runtime.Gosched()
			}
		}
	}()
	for range 200 {
		c := dialRaw(t, ln.Addr().String())
		c.write(`{"command":"notify_job","args":[null]}` + "\n")
		for c.line() != `{"return":null}` {
		}
		c.line() // a notification
		// Hang up half-way: the server sees the end of the requests
		// while notifications still go out, then closes.
		_ = c.nc.(*net.TCPConn).CloseWrite()
		c.eof()
	}
	close(stop)
	<-published

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
