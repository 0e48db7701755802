package consoletest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/spalloc/spallocd/internal/testutil"
)

// TestConsoleNarrowLayout: at 420 px no page scrolls sideways: overview,
// job list, audit log, the pages of a running, a queued and a destroyed
// job, a drained machine's page, the machine page with the details panel
// and an action dialog open, all with an operator signed in.
func TestConsoleNarrowLayout(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 420, 900)
	c := srv.dial(t)
	running := createJob(t, c, []any{2, 1}, map[string]any{"owner": "a-rather-long-owner-name@example.org", "machine": "demo-4x2"})
	queued := createJob(t, c, []any{4, 2}, map[string]any{"owner": "bob", "machine": "demo-4x2", "max_dead_boards": 1})
	ended := createJob(t, c, nil, map[string]any{"owner": "carol", "tags": []string{"single"}})
	srv.awaitJob(t, ended, "ready", ready)
	reason := "Cancelled: a long reason that an owner typed into the client, to see that it wraps on a phone"
	if err := c.DestroyJob(testutil.Ctx(t), ended, &reason); err != nil {
		t.Fatal(err)
	}
	srv.change(t, aliceToken, http.MethodPost, "/machines/demo-board/drain",
		map[string]any{"reason": "a long reason for draining it: the board's cooling is being replaced this week"})

	pages := []struct{ path, ready, name string }{
		{"/", `document.querySelectorAll('#job-rows tr[data-job]').length === 2`, "overview"},
		{"/jobs", `document.querySelectorAll('#jobs-rows tr[data-job]').length === 3`, "jobs"},
		{fmt.Sprintf("/jobs/%d", running), `!!document.querySelector('#job-map svg.map') &&
			/last seen \d+s ago from 127\.0\.0\.1 · expires in \d+s/.test(document.querySelector('#job-summary').innerText)`, "job"},
		{fmt.Sprintf("/jobs/%d", queued), `/May run on\s+demo-4x2 \(#1 in its queue\)/.test(document.querySelector('#job-summary').innerText)`, "queued job"},
		{fmt.Sprintf("/jobs/%d", ended), `!!document.querySelector('#job-map polygon.held')`, "destroyed job"},
		{"/audit", `document.querySelectorAll('#audit-rows tr[data-audit]').length === 1`, "audit"},
		{"/machines/demo-board", `!!document.querySelector('#machine-map .badge.drained')`, "drained machine"},
		{"/machines/demo-4x2", `document.querySelectorAll('#bmp-panel li.bmp').length === 1`, "machine"},
	}
	p.open("/")
	p.click(`#token-button`)
	p.typeInto(`#action-dialog input[name=token]`, aliceToken)
	p.click(`#action-dialog button[type=submit]`)
	p.await(`!document.querySelector('#signed-in').hidden`, "alice signed in")
	for _, pg := range pages {
		p.open(pg.path)
		p.await(pg.ready, pg.name+" page filled")
		p.checkNoOverflow(pg.name + " page")
		switch pg.name {
		case "job":
			p.screenshot("console-narrow-job.png")
		case "audit":
			p.screenshot("console-narrow-audit.png")
		}
	}

	p.click(hexSel("demo-4x2", [3]int{}))
	p.await(`!document.querySelector('#details').hidden`, "the details panel")
	p.checkNoOverflow("machine page with the board details")
	p.clickUntil(`#details [data-action=out_of_service]`, `!!document.querySelector('#action-dialog[open]')`, "the action dialog")
	p.checkNoOverflow("machine page with an action dialog")
	p.screenshot("console-narrow-dialog.png")
}

// TestConsoleFacilityMachine: the 1200-board example machine's page stays
// readable: labels are left out where they would be too small and appear
// when zoomed in; BMPs are grouped by cabinet and frame; the utilisation
// shows the job's share; and the page fits a phone. A BMP that does not
// answer (a second machine's, on a socket that never replies) is marked
// down on its machine's page with its error.
func TestConsoleFacilityMachine(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	// Short BMP time-outs, so that the silent BMP is found out in seconds.
	const settings = `[bmp]
timeout = "300ms"
power_on_timeout = "500ms"
request_retry_delay = "500ms"
`
	srv := startServer(t, settings, exampleMachines(t, "spinnaker-1200.toml", "{}")+
		testutil.MachineTOML("offline", 1, silent.LocalAddr().String(), "10.99.0"))
	c := srv.dial(t)
	big := createJob(t, c, []any{6, 6}, map[string]any{"owner": "big-model", "machine": "spinnaker1m"}) // 108 boards
	createJob(t, c, nil, map[string]any{"owner": "stuck", "machine": "offline"})
	srv.awaitJob(t, big, "ready", ready)

	p := openTab(t, srv.url, 1400, 1000)
	p.open("/machines/spinnaker1m")
	p.await(`document.querySelectorAll('#machine-map polygon.board').length === 1200`, "1200 boards on the map")
	p.await(`document.querySelectorAll('#utilisation-chart rect.bar').length === 48`, "the utilisation chart")
	if got := p.text(`#utilisation-now`); !strings.Contains(got, "108 of 1195 working boards in jobs") {
		t.Errorf("utilisation now: %q", got)
	}
	cabinets := evalJS[[]int](p, `[...document.querySelectorAll('#bmp-panel .cabinet')].map(c => c.querySelectorAll('li.bmp').length)`)
	if len(cabinets) != 10 {
		t.Errorf("BMP panel shows %d cabinets, want 10", len(cabinets))
	}
	for i, n := range cabinets {
		if n != 5 {
			t.Errorf("cabinet %d shows %d frames, want 5", i, n)
		}
	}
	if n := evalJS[int](p, `document.querySelectorAll('#bmp-panel li.bmp.down').length`); n != 0 {
		t.Errorf("%d BMPs of spinnaker1m marked down, want none", n)
	}

	// At fit, labels would be unreadable: left out. Zoomed in, they are
	// shown at a readable size and fit inside their boards.
	mapWidth := evalJS[float64](p, `document.querySelector('#machine-map svg.map').getBoundingClientRect().width`)
	if mapWidth > 1400 {
		t.Errorf("the map is %.0f px wide in a 1400 px window", mapWidth)
	}
	if got := evalJS[string](p, `document.querySelector('#machine-map svg.map').dataset.labels`); got != "hidden" {
		t.Errorf("labels at fit: %q, want hidden", got)
	}
	p.screenshot("console-machine-1200.png")
	for range 3 {
		p.click(`#machine-map button.zoom-in`)
	}
	p.await(`document.querySelector('#machine-map svg.map').dataset.labels === 'shown'`, "labels when zoomed in")
	fit := evalJS[string](p, `(() => {
		const label = [...document.querySelectorAll('#machine-map text.label')].find(t => {
			const r = t.getBoundingClientRect(); return r.width > 0 && r.left > 0 && r.right < innerWidth && r.top > 0 && r.bottom < innerHeight;
		});
		if (!label) return 'no label on screen';
		const r = label.getBoundingClientRect();
		const hex = label.previousElementSibling.getBoundingClientRect();
		const map = document.querySelector('#machine-map svg.map').getBoundingClientRect();
		const box = document.querySelector('#machine-map svg.map').viewBox.baseVal;
		const font = parseFloat(getComputedStyle(label).fontSize) * Math.min(map.width / box.width, map.height / box.height);
		if (font < 9) return 'font ' + font.toFixed(1) + ' px on screen';
		if (r.width > hex.width) return 'label ' + r.width.toFixed(0) + ' px wider than its board ' + hex.width.toFixed(0) + ' px';
		return 'ok';
	})()`)
	if fit != "ok" {
		t.Errorf("zoomed-in labels: %s", fit)
	}
	p.click(`#machine-map button.zoom-fit`)
	p.await(`document.querySelector('#machine-map svg.map').dataset.labels === 'hidden'`, "labels hidden again at fit")

	// The silent BMP: down, since when, and why.
	p.open("/machines/offline")
	p.await(`!!document.querySelector('#bmp-panel .cabinet[data-cabinet="0"] li.bmp.down[data-frame="0"] .error')`, "the silent BMP marked down")
	if got := p.text(`#bmp-panel li.bmp.down`); !strings.Contains(got, "unreachable since") || !strings.Contains(got, "last error: ") {
		t.Errorf("the unreachable BMP's line: %q", got)
	}
	if got := p.text(`#queue-rows`); !strings.Contains(got, "stuck") {
		t.Errorf("the job waiting for the silent BMP is not in the queue: %q", got)
	}

	p.do(chromedp.EmulateViewport(420, 900))
	p.open("/machines/spinnaker1m")
	p.await(`document.querySelectorAll('#bmp-panel li.bmp').length === 50`, "the BMP panel")
	p.checkNoOverflow("1200-board machine page")
}
