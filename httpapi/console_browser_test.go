package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// The operator console in a real browser: every action of the HTTP API
// from the dashboard, the job list filters, the 1200-board machine page and
// the narrow layout.

const consoleToken = "console-test-token"

// tab is one browser tab on a server, failing the test on any error.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *demoServer
}

func openTab(t *testing.T, srv *demoServer, width, height int64) *tab {
	t.Helper()
	ctx := newBrowser(t)
	jsErrors := watchJSErrors(ctx)
	t.Cleanup(func() {
		if errs := jsErrors(); len(errs) > 0 {
			t.Errorf("the dashboard's script failed: %q", errs)
		}
	})
	p := &tab{t: t, ctx: ctx, srv: srv}
	p.do(chromedp.EmulateViewport(width, height))
	return p
}

func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// open loads a dashboard page and waits for its first refresh.
func (p *tab) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.srv.url + path))
	p.await(`Number(document.body.dataset.refreshed || 0) >= 1`, "the page's first refresh")
}

// await polls a JavaScript condition until it holds.
func (p *tab) await(cond, what string) {
	p.t.Helper()
	ok, err := chromedp.Run(p.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ok {
		p.t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

func evalJS[T any](p *tab, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p *tab) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

func (p *tab) typeInto(sel, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ''`, sel))
}

// confirm fills the open action dialog (reason, token when asked) and
// submits it.
func (p *tab) confirm(reason, token string) {
	p.t.Helper()
	p.await(`!!document.querySelector('#action-dialog[open]')`, "the action dialog")
	if reason != "" {
		p.typeInto(`#action-dialog input[name=reason]`, reason)
	}
	if token != "" {
		p.typeInto(`#action-dialog input[name=token]`, token)
	}
	p.click(`#action-dialog button[type=submit]`)
}

func (p *tab) dialogClosed() {
	p.t.Helper()
	closed, err := chromedp.Run(p.ctx, chromedp.Poll[bool](`!document.querySelector('#action-dialog[open]')`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !closed {
		p.t.Fatalf("the action dialog stays open (%v): %q", err, p.text(`#action-dialog`))
	}
}

// hexSel selects a board's hexagon on the map of machine.
func hexSel(machine string, b geometry.Board) string {
	return fmt.Sprintf(`svg.map[data-machine=%q] polygon.board[data-x="%d"][data-y="%d"][data-z="%d"]`, machine, b.X, b.Y, b.Z)
}

func (srv *demoServer) board(t *testing.T, machine string, b geometry.Board) service.BoardInfo {
	t.Helper()
	m, err := srv.svc.MachineDetail(context.Background(), machine)
	if err != nil {
		t.Fatal(err)
	}
	for _, bi := range m.Boards {
		if bi.Board == b {
			return bi
		}
	}
	t.Fatalf("no board %v on %s", b, machine)
	return service.BoardInfo{}
}

// eventually polls a server-side condition (BMP work takes a moment).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (srv *demoServer) dial(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), srv.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (srv *demoServer) createJob(t *testing.T, c *client.Client, args []any, kwargs map[string]any) int64 {
	t.Helper()
	id, err := c.CreateJob(context.Background(), args, kwargs)
	if err != nil {
		t.Fatalf("create_job %v %v: %v", args, kwargs, err)
	}
	return id
}

// TestConsoleBoardActions drives every board action from the board details
// panel: out of service (a wrong token first: the API's error is shown, and
// nothing changes), maintenance power on and off, a link dead and alive,
// return to service, and a cancelled confirmation.
func TestConsoleBoardActions(t *testing.T) {
	srv := startServer(t, config.Demo(), Options{AdminToken: consoleToken})
	p := openTab(t, srv, 1400, 1000)
	const m = "demo-4x2"
	b := geometry.Board{X: 2, Y: 1, Z: 0}
	p.open("/machines/" + m)
	selectBoard := func() {
		p.click(hexSel(m, b))
		p.await(fmt.Sprintf(`document.querySelector('#details').dataset.board === %q && !document.querySelector('#details').hidden`,
			fmt.Sprintf("%s/%d/%d/%d", m, b.X, b.Y, b.Z)), "the board's details panel")
	}
	selectBoard()

	// Cancelling a destructive action changes nothing.
	p.click(`#details [data-action=out_of_service]`)
	p.await(`!!document.querySelector('#action-dialog[open] input[name=token]:not([hidden])')`, "the dialog asking for the token")
	p.click(`#action-dialog .buttons button[type=button]`)
	p.dialogClosed()
	if bi := srv.board(t, m, b); bi.OutOfService != nil {
		t.Fatalf("cancelled action took the board out of service: %q", *bi.OutOfService)
	}

	// A wrong token: the API's message in the dialog, nothing changed.
	p.click(`#details [data-action=out_of_service]`)
	p.confirm("fan noise", "not-the-token")
	p.await(`(document.querySelector('#action-dialog[open] .error') || {}).innerText === 'wrong admin token'`, "the API's error in the dialog")
	if bi := srv.board(t, m, b); bi.OutOfService != nil {
		t.Fatal("a refused action changed the board")
	}
	if stored := evalJS[string](p, `sessionStorage.getItem('spallocd.admin-token') || ''`); stored != "" {
		t.Errorf("a refused token stays stored: %q", stored)
	}
	p.typeInto(`#action-dialog input[name=token]`, consoleToken)
	p.click(`#action-dialog button[type=submit]`)
	p.dialogClosed()
	if bi := srv.board(t, m, b); bi.OutOfService == nil || *bi.OutOfService != "fan noise" {
		t.Fatalf("board not out of service for the reason given: %+v", bi)
	}
	p.await(fmt.Sprintf(`document.querySelector(%q).getAttribute('fill') === %q`, hexSel(m, b), "#f0a04b"), "the board drawn out of service")
	if stored := evalJS[string](p, `sessionStorage.getItem('spallocd.admin-token')`); stored != consoleToken {
		t.Errorf("token kept in sessionStorage: %q", stored)
	}

	// Maintenance power: asked once more for confirmation, not for the token.
	p.await(`!!document.querySelector('#details [data-action=power_on]')`, "the power-on action of an out-of-service board")
	p.screenshot("console-board.png")
	p.click(`#details [data-action=power_on]`)
	p.await(`!!document.querySelector('#action-dialog[open]')`, "the confirmation")
	if evalJS[bool](p, `!document.querySelector('#action-dialog label.token').hidden`) {
		t.Error("the token is asked for again")
	}
	p.click(`#action-dialog button[type=submit]`)
	p.dialogClosed()
	eventually(t, "the board powered on", func() bool { return srv.board(t, m, b).Power })
	p.await(`!!document.querySelector('#details [data-action=power_off]')`, "the power-off action of a powered board")
	p.click(`#details [data-action=power_off]`)
	p.confirm("", "")
	p.dialogClosed()
	eventually(t, "the board powered off", func() bool { bi := srv.board(t, m, b); return !bi.Power && bi.PendingOps == 0 })

	// A link dead, then alive again.
	deadNorth := func() bool {
		md, err := srv.svc.MachineDetail(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range md.DeadLinks {
			if l.Board == b && l.Link == geometry.North {
				return true
			}
		}
		return false
	}
	p.click(`#details tr[data-link=north] [data-action=link_dead]`)
	p.confirm("", "")
	p.dialogClosed()
	if !deadNorth() {
		t.Fatal("link north not dead after marking it")
	}
	p.await(`!!document.querySelector('#details tr[data-link=north] [data-action=link_alive]')`, "the link shown dead")
	p.click(`#details tr[data-link=north] [data-action=link_alive]`)
	p.confirm("", "")
	p.dialogClosed()
	if deadNorth() {
		t.Fatal("link north still dead after marking it alive")
	}

	// Returning to service is not destructive: done at once.
	p.await(`!!document.querySelector('#details [data-action=in_service]')`, "the return-to-service action")
	p.click(`#details [data-action=in_service]`)
	eventually(t, "the board back in service", func() bool { return srv.board(t, m, b).OutOfService == nil })
	p.await(fmt.Sprintf(`document.querySelector(%q).getAttribute('fill') === %q`, hexSel(m, b), freeFill), "the board drawn free")
	if evalJS[bool](p, `!!document.querySelector('#action-dialog[open]')`) {
		t.Error("a non-destructive action asked for confirmation")
	}

	// Out of service with its job destroyed (the checkbox of the dialog).
	c := srv.dial(t)
	id := srv.createJob(t, c, nil, map[string]any{"owner": "frank", "tags": []string{"single"}})
	p.open("/machines/demo-board")
	p.click(hexSel("demo-board", geometry.Board{}))
	p.await(`!!document.querySelector('#details [data-action=out_of_service]')`, "the single board's details")
	p.click(`#details [data-action=out_of_service]`)
	p.await(`!!document.querySelector('#action-dialog[open] input[name=destroy_job]')`, "the choice to destroy the board's job")
	p.click(`#action-dialog input[name=destroy_job]`)
	p.confirm("smoke from the board", "")
	p.dialogClosed()
	j, err := srv.svc.JobDetail(context.Background(), id)
	if err != nil || j.State != service.StateDestroyed || j.Reason == nil || !strings.Contains(*j.Reason, "smoke from the board") {
		t.Fatalf("job on the board taken out of service: %+v %v, want destroyed with the reason", j, err)
	}
}

// TestConsoleJobAndStopActions destroys a job from its page (also a
// failure: the job destroyed behind the page's back), then stops and
// resumes everything from the machine page, with the banner telling why,
// when and who.
func TestConsoleJobAndStopActions(t *testing.T) {
	srv := startServer(t, config.Demo(), Options{AdminToken: consoleToken})
	p := openTab(t, srv, 1400, 1000)
	c := srv.dial(t)
	ctx := context.Background()
	id := srv.createJob(t, c, []any{2, 1}, map[string]any{"owner": "carol", "machine": "demo-4x2", "min_ratio": 0})
	other := srv.createJob(t, c, nil, map[string]any{"owner": "dave", "tags": []string{"single"}})

	// A failure shows the API's error: the job is gone by the time the
	// operator confirms.
	p.open(fmt.Sprintf("/jobs/%d", other))
	p.click(`#job-actions [data-action=destroy_job]`)
	p.await(`!!document.querySelector('#action-dialog[open]')`, "the destroy dialog")
	reason := "gone already"
	if err := srv.svc.DestroyJob(ctx, other, &reason, ""); err != nil {
		t.Fatal(err)
	}
	p.confirm("too late", consoleToken)
	p.await(`(document.querySelector('#action-dialog[open] .error') || {}).innerText.includes('already destroyed')`, "the conflict shown")
	p.click(`#action-dialog .buttons button[type=button]`)

	p.open(fmt.Sprintf("/jobs/%d", id))
	if req := p.text(`#job-summary`); !strings.Contains(req, "2×1 triads on machine demo-4x2, min_ratio 0") {
		t.Errorf("job summary does not give the request in words: %q", req)
	}
	p.click(`#job-actions [data-action=destroy_job]`)
	p.confirm("maintenance window", "")
	p.dialogClosed()
	j, err := srv.svc.JobDetail(ctx, id)
	if err != nil || j.State != service.StateDestroyed || j.Reason == nil || *j.Reason != "maintenance window" {
		t.Fatalf("job after destroy: %+v %v", j, err)
	}
	p.await(`document.querySelector('#job-state .badge').innerText === 'destroyed'`, "the page showing the job destroyed")
	p.await(`document.querySelectorAll('#job-map polygon.board.held').length === 6`, "the six boards it had outlined")
	if got := p.text(`#job-summary`); !strings.Contains(got, "maintenance window") {
		t.Errorf("destroyed job's summary lacks the reason: %q", got)
	}
	if n := evalJS[int](p, `document.querySelectorAll('#job-actions button').length`); n != 0 {
		t.Errorf("a destroyed job offers %d actions", n)
	}
	p.screenshot("console-job-destroyed.png")

	// Emergency stop from the machine page.
	srv.createJob(t, c, nil, map[string]any{"owner": "erin", "tags": []string{"single"}})
	p.open("/machines/demo-4x2")
	p.click(`#machine-actions [data-action=emergency_stop]`)
	p.confirm("smoke in the machine room", "")
	p.dialogClosed()
	if h := srv.svc.Health(ctx); !h.EmergencyStop {
		t.Fatal("no emergency stop in force")
	}
	p.await(`!document.querySelector('#banner').hidden && !!document.querySelector('#banner .stop-reason')`, "the emergency-stop banner")
	banner := p.text(`#banner`)
	for _, want := range []string{"smoke in the machine room", "by operator", "Since "} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner %q lacks %q", banner, want)
		}
	}
	p.screenshot("console-emergency-stop.png")
	p.click(`#banner [data-action=resume]`)
	p.await(`document.querySelector('#banner').hidden`, "the banner to go")
	if h := srv.svc.Health(ctx); h.EmergencyStop {
		t.Fatal("still stopped after resume")
	}
}

// TestConsoleJobList filters the job list by state, owner, machine and
// time range and pages through it.
func TestConsoleJobList(t *testing.T) {
	srv := startDemoServer(t)
	p := openTab(t, srv, 1400, 1000)
	c := srv.dial(t)
	ctx := context.Background()
	big := srv.createJob(t, c, []any{1, 1}, map[string]any{"owner": "alice", "machine": "demo-4x2"})
	reason := "Cancelled: tired of waiting"
	if err := srv.svc.DestroyJob(ctx, big, &reason, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ { // one runs, the rest queue on the single board
		srv.createJob(t, c, nil, map[string]any{"owner": "bob", "tags": []string{"single"}})
	}
	rows := `document.querySelectorAll('#jobs-rows tr[data-job]')`
	// The rows answer the filters in the URL once their refresh is done.
	current := func() {
		p.await(`document.querySelector('#jobs-rows').dataset.shown === location.search`, "the list to show the filters")
	}
	apply := func(field, value string) {
		t.Helper()
		p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const f = document.querySelector('#job-filters').elements[%q];
			f.value = %q;
			f.dispatchEvent(new Event('change', {bubbles: true}));
		})()`, field, value)))
		current()
	}

	p.open("/jobs?limit=25")
	if n := evalJS[int](p, rows+".length"); n != 25 {
		t.Fatalf("first page shows %d jobs, want 25", n)
	}
	if got := p.text(`#jobs-page`); got != "1–25 of 31" {
		t.Errorf("pager says %q", got)
	}
	p.click(`#jobs-next`)
	current()
	p.await(`document.querySelector('#jobs-page').innerText === '26–31 of 31'`, "the second page")
	if n := evalJS[int](p, rows+".length"); n != 6 {
		t.Errorf("second page shows %d jobs, want 6", n)
	}
	if !strings.Contains(evalJS[string](p, `location.search`), "offset=25") {
		t.Error("the page is not in the URL")
	}

	apply("state", "destroyed")
	if ids := evalJS[[]string](p, `[...`+rows+`].map(r => r.dataset.job)`); len(ids) != 1 || ids[0] != fmt.Sprint(big) {
		t.Fatalf("destroyed jobs listed: %v, want [%d]", ids, big)
	}
	if got := p.text(`#jobs-rows`); !strings.Contains(got, reason) {
		t.Errorf("destroyed job's row lacks its reason: %q", got)
	}
	apply("state", "")
	apply("owner", "alice")
	if n := evalJS[int](p, rows+".length"); n != 1 {
		t.Errorf("alice's jobs: %d rows, want 1", n)
	}
	apply("owner", "")
	apply("machine", "demo-board")
	if n := evalJS[int](p, rows+".length"); n != 25 || !strings.Contains(p.text(`#jobs-page`), "of 30") {
		t.Errorf("demo-board's jobs: %d rows, pager %q, want 25 of 30", n, p.text(`#jobs-page`))
	}
	apply("machine", "")
	// Jobs that existed in the hour before the last one: none.
	apply("until", time.Now().Add(-time.Hour).Format("2006-01-02T15:04"))
	if got := p.text(`#jobs-rows`); !strings.Contains(got, "No job matches") {
		t.Errorf("jobs before any existed: %q", got)
	}
	apply("until", "")
	apply("since", time.Now().Add(-time.Hour).Format("2006-01-02T15:04"))
	if !strings.Contains(p.text(`#jobs-page`), "of 31") {
		t.Errorf("jobs of the last hour: pager %q, want all 31", p.text(`#jobs-page`))
	}
	// The filters live in the URL: a reload shows the same list.
	p.open("/jobs" + evalJS[string](p, `location.search`))
	if got := evalJS[string](p, `document.querySelector('#job-filters').elements.since.value`); got == "" {
		t.Error("the time filter was lost on reload")
	}
	p.screenshot("console-jobs.png")
}

// TestJobColoursAreNotStateColours: no job colour is near the colour of a
// board state (out of service, BMP unreachable, ...), by CIE76 distance.
func TestJobColoursAreNotStateColours(t *testing.T) {
	srv := startDemoServer(t)
	p := openTab(t, srv, 800, 600)
	p.open("/")
	raw := evalJS[string](p, `(() => {
		const probe = document.createElement('div');
		document.body.append(probe);
		const rgb = (c) => { probe.style.color = c; return getComputedStyle(probe).color; };
		const jobs = [];
		for (let id = 1; id <= 3000; id++) jobs.push(rgb(window.spallocColours.jobColour(id)));
		const states = Object.fromEntries(Object.entries(window.spallocColours.states).map(([k, v]) => [k, rgb(v)]));
		return JSON.stringify({jobs, states});
	})()`)
	var got struct {
		Jobs   []string          `json:"jobs"`
		States map[string]string `json:"states"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	const minDistance = 20.0 // clearly different to the eye
	worst := 1e9
	for id, j := range got.Jobs {
		for state, s := range got.States {
			d := deltaE(parseRGB(t, j), parseRGB(t, s))
			worst = min(worst, d)
			if d < minDistance {
				t.Errorf("job %d's colour %s is %.1f from the colour of %s (%s)", id+1, j, d, state, s)
			}
		}
	}
	t.Logf("closest job colour to a state colour: ΔE %.1f", worst)
}

// parseRGB reads a computed CSS colour "rgb(r, g, b)".
func parseRGB(t *testing.T, s string) [3]float64 {
	t.Helper()
	var c [3]float64
	if _, err := fmt.Sscanf(s, "rgb(%g, %g, %g)", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return c
}

// deltaE is the CIE76 distance of two sRGB colours (0-255 channels).
func deltaE(a, b [3]float64) float64 {
	la, lb := toLab(a), toLab(b)
	return math.Sqrt((la[0]-lb[0])*(la[0]-lb[0]) + (la[1]-lb[1])*(la[1]-lb[1]) + (la[2]-lb[2])*(la[2]-lb[2]))
}

func toLab(c [3]float64) [3]float64 {
	var lin [3]float64
	for i, v := range c {
		v /= 255
		if v <= 0.04045 {
			lin[i] = v / 12.92
		} else {
			lin[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	x := (0.4124*lin[0] + 0.3576*lin[1] + 0.1805*lin[2]) / 0.95047
	y := 0.2126*lin[0] + 0.7152*lin[1] + 0.0722*lin[2]
	z := (0.0193*lin[0] + 0.1192*lin[1] + 0.9505*lin[2]) / 1.08883
	f := func(v float64) float64 {
		if v > 0.008856 {
			return math.Cbrt(v)
		}
		return 7.787*v + 16.0/116
	}
	return [3]float64{116*f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))}
}
