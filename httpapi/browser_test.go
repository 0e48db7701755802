package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/tcpserver"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// demoServer is the whole server of the demo configuration in-process: the
// service on a real SQLite file and wall clock, fake BMPs on loopback UDP,
// the BMP workers, the v1 protocol on loopback TCP and this package's
// handler on loopback HTTP.
type demoServer struct {
	svc     *service.Service
	url     string // HTTP base URL
	tcpAddr string
	cfg     *config.Config
}

func startDemoServer(t *testing.T) *demoServer {
	t.Helper()
	return startServer(t, config.Demo(), Options{})
}

// startServer runs the whole server of cfg in-process like startDemoServer,
// with the handler options opts (e.g. an admin token).
func startServer(t *testing.T, cfg *config.Config, opts Options) *demoServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	cfg.BMP.PostPowerOnDelay = 0 // fake BMPs answer at once (as spallocd sets it for them)
	svc, err := service.Open(ctx, service.Options{DBPath: filepath.Join(t.TempDir(), "demo.db"), Logger: quiet,
		TickInterval: cfg.Server.KeepaliveCheckInterval})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	resolve := startFakeBMPs(t, cfg)

	var stops []func()
	t.Cleanup(func() {
		cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		svc.Close()
	})
	background := func(run func() error) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := run(); err != nil && ctx.Err() == nil {
				t.Errorf("background component failed: %v", err)
			}
		}()
		stops = append(stops, func() { <-done })
	}
	background(func() error { return svc.Run(ctx) })
	workers := bmp.NewManager(svc, bmp.ManagerOptions{Settings: cfg.BMP, Resolve: resolve, Logger: quiet})
	background(func() error { return workers.Run(ctx) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proto := tcpserver.New(svc, tcpserver.Options{Logger: quiet})
	background(func() error {
		if err := proto.Serve(ctx, ln); err != nil && err != tcpserver.ErrServerClosed && err != context.Canceled {
			return err
		}
		return nil
	})

	done := make(chan struct{})
	opts.Version, opts.Done, opts.Logger = "0.0.0-test", done, quiet
	web := httptest.NewServer(New(svc, opts))
	stops = append(stops, func() { close(done); web.Close() })
	return &demoServer{svc: svc, url: web.URL, tcpAddr: ln.Addr().String(), cfg: cfg}
}

// startFakeBMPs serves every BMP of the configuration's fake_bmp machines
// with a fake on loopback and returns the address resolver for the workers.
func startFakeBMPs(t *testing.T, cfg *config.Config) func(string) string {
	t.Helper()
	addrs := map[string]string{}
	for _, m := range cfg.Machines {
		if m.FakeBMP == nil {
			continue
		}
		for _, b := range m.BMPs {
			var nums []int
			for _, p := range append(append([]config.BoardPos{}, m.Boards...), m.DeadBoardPositions...) {
				if p.Cabinet == b.Cabinet && p.Frame == b.Frame {
					nums = append(nums, p.BoardNum)
				}
			}
			srv, err := fakebmp.New(fakebmp.Options{Listen: "127.0.0.1:0", Boards: nums,
				PowerDelay: m.FakeBMP.PowerDelay, LinkDelay: m.FakeBMP.LinkDelay})
			if err == nil {
				err = srv.Start()
			}
			if err != nil {
				t.Fatalf("fake BMP of %s: %v", m.Name, err)
			}
			t.Cleanup(func() { srv.Close() })
			addrs[b.Address] = srv.Addr()
		}
	}
	return func(a string) string {
		if fake, ok := addrs[a]; ok {
			return fake
		}
		return a
	}
}

// newBrowser starts headless Debian chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the dashboard test needs Debian's chromium (apt-get install -y chromium; scripts/test.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	// The whole browser session is bounded, so a page that never shows
	// what is expected fails the test instead of hanging it.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 2*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	return bctx
}

// saveArtefact writes a screenshot under the test's temp dir and, when
// SPALLOC_ARTIFACTS names a folder, there too.
func saveArtefact(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{t.TempDir()}
	if dir := os.Getenv("SPALLOC_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

const freeFill = "#e4ece1" // the dashboard's colour of a free board

// watchJSErrors collects uncaught exceptions and console.error calls of the
// page (the dashboard logs failed refreshes there) until ctx ends; the
// returned function reports those seen so far.
func watchJSErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	record := func(s string) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			record(msg)
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			record("console.error: " + strings.Join(parts, " "))
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestDashboardInBrowser opens the dashboard of the demo server in headless
// Chromium, checks the board maps, creates a job over the v1 protocol and
// sees its boards take the job's colour without a reload, then looks at
// the job's page.
func TestDashboardInBrowser(t *testing.T) {
	srv := startDemoServer(t)
	ctx := newBrowser(t)
	want := map[string]int{} // boards drawn: a single-board machine has one
	for _, m := range srv.cfg.Machines {
		want[m.Name] = len(m.Boards) + len(m.ListedDeadBoards())
	}

	jsErrors := watchJSErrors(ctx)
	defer func() {
		if errs := jsErrors(); len(errs) > 0 {
			t.Errorf("the dashboard's script failed: %q", errs)
		}
	}()

	boardsOf := func(machine string) string {
		return fmt.Sprintf(`document.querySelectorAll('svg.map[data-machine=%q] polygon.board')`, machine)
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Navigate(srv.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`svg.map[data-machine="demo-4x2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
	)
	if err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	for name, n := range want {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[int](boardsOf(name)+".length"))
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("machine %s shows %d boards, want %d", name, got, n)
		}
	}
	// The single-board machine's card counts its one board, no dead ones.
	soloCounts, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`document.querySelector('#machine-demo-board .counts').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "1 free · 0 queued"; soloCounts != want {
		t.Errorf("demo-board's card says %q, want %q", soloCounts, want)
	}
	freeBefore, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(
		`[...%s].filter(p => p.getAttribute('fill') === %q).length`, boardsOf("demo-4x2"), freeFill)))
	if err != nil {
		t.Fatal(err)
	}
	if freeBefore != want["demo-4x2"]-1 {
		t.Errorf("%d boards of demo-4x2 drawn free, want all but the dead one (%d)", freeBefore, want["demo-4x2"]-1)
	}
	// A reload would forget this.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`)); err != nil {
		t.Fatal(err)
	}

	// A 2 x 1 triad job over the protocol, as a user would make it.
	pc, err := client.Dial(ctx, srv.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	id, err := pc.CreateJob(ctx, []any{2, 1}, map[string]any{"owner": "browser-test", "machine": "demo-4x2"})
	if err != nil {
		t.Fatalf("create_job: %v", err)
	}
	info, err := srv.svc.JobDetail(ctx, id)
	if err != nil || len(info.Boards) == 0 {
		t.Fatalf("job %d: %v %+v, want boards allocated at once on the empty machine", id, err, info)
	}
	jobBoards := len(info.Boards)
	coloured, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`(() => {
		const ps = [...document.querySelectorAll('svg.map polygon.board[data-job="%d"]')];
		return ps.length === %d && ps.every(p => p.getAttribute('fill') !== %q);
	})()`, id, jobBoards, freeFill), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !coloured {
		t.Fatalf("the %d boards of job %d did not change colour on the open page: %v", jobBoards, id, err)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`)); err != nil || !same {
		t.Fatalf("the page was reloaded (%v); it must update in place", err)
	}

	// Let the fake BMPs power the job and the job list say so, then keep a
	// picture of the overview.
	ready, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(
		`!!document.querySelector('#job-rows tr[data-job="%d"] .badge.ready')`, id),
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ready {
		t.Fatalf("job %d never shown ready in the job list: %v", id, err)
	}

	// Two more jobs for the picture: a single board that gets powered, and
	// a whole-machine job that has to wait (and says why).
	single, err := pc.CreateJob(ctx, nil, map[string]any{"owner": "alice", "tags": []string{"single"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateJob(ctx, []any{4, 2}, map[string]any{"owner": "bob", "machine": "demo-4x2"}); err != nil {
		t.Fatal(err)
	}
	ready, err = chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`(() => {
		const rows = document.querySelectorAll('#job-rows tr');
		return rows.length === 3 && !!document.querySelector('#job-rows tr[data-job="%d"] .badge.ready');
	})()`, single), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ready {
		t.Fatalf("the job list does not show three jobs with job %d ready: %v", single, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtefact(t, "dashboard.png", png)

	// Hovering a board of the job shows where it is; clicking it opens its
	// details with the job.
	pos := info.Boards[0]
	phys, err := srv.svc.BoardPosition(ctx, "demo-4x2", pos)
	if err != nil || phys == nil {
		t.Fatalf("position of %v: %v", pos, err)
	}
	hex := fmt.Sprintf(`document.querySelector('svg.map[data-machine="demo-4x2"] polygon.board[data-x="%d"][data-y="%d"][data-z="%d"]')`, pos.X, pos.Y, pos.Z)
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const r = %s.getBoundingClientRect();
		%s.dispatchEvent(new MouseEvent('mouseenter', {clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));
		const tip = document.getElementById('tooltip');
		return tip.hidden ? '' : tip.innerText;
	})()`, hex, hex)))
	if err != nil {
		t.Fatal(err)
	}
	wantTip := []string{fmt.Sprintf("board (%d, %d, %d)", pos.X, pos.Y, pos.Z),
		fmt.Sprintf("c%d f%d b%d", phys.Cabinet, phys.Frame, phys.Board), fmt.Sprintf("job %d", id)}
	for _, w := range wantTip {
		if !strings.Contains(tip, w) {
			t.Errorf("tooltip %q lacks %q", tip, w)
		}
	}
	panel, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		%s.dispatchEvent(new MouseEvent('click', {bubbles: true}));
		const d = document.getElementById('details');
		return d.hidden ? '' : d.innerText;
	})()`, hex)))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{fmt.Sprintf("cabinet %d, frame %d, board %d", phys.Cabinet, phys.Frame, phys.Board), "10.11.0.", fmt.Sprintf("job %d", id)} {
		if !strings.Contains(panel, w) {
			t.Errorf("details panel %q lacks %q", panel, w)
		}
	}

	// The job's page: its boards stand out, the others are dimmed, and the
	// history shows its life so far.
	err = chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/jobs/%d", srv.url, id)),
		chromedp.WaitVisible(chromedp.CSS(`#job-map svg.map`)),
		chromedp.WaitVisible(chromedp.CSS(`#job-history li.ready`)),
	)
	if err != nil {
		t.Fatalf("job page: %v", err)
	}
	lit, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#job-map polygon.board:not(.dim)').length`))
	if err != nil {
		t.Fatal(err)
	}
	history, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#job-history li').length`))
	if err != nil {
		t.Fatal(err)
	}
	if png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	saveArtefact(t, "dashboard-job.png", png)
	if lit != jobBoards {
		t.Errorf("job page highlights %d boards, want the job's %d", lit, jobBoards)
	}
	if history < 3 {
		t.Errorf("job history shows %d entries, want at least created, allocated, ready", history)
	}

	// The machine's page lists its queue (bob's whole-machine job).
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/machines/demo-4x2"),
		chromedp.WaitVisible(chromedp.CSS(`#machine-map svg.map`)),
		chromedp.WaitVisible(chromedp.CSS(`#queue-rows tr[data-job]`)),
	)
	if err != nil {
		t.Fatalf("machine page: %v", err)
	}
	queued, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue-rows tr[data-job]').length`))
	if err != nil || queued != 1 {
		t.Errorf("machine page lists %d queued jobs (%v), want 1", queued, err)
	}
}
