package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// overflowJS lists the visible elements that reach beyond the viewport's
// width (a page that scrolls sideways on a phone).
const overflowJS = `(() => {
	const width = document.documentElement.clientWidth;
	const bad = [];
	for (const e of document.querySelectorAll('body *')) {
		const r = e.getBoundingClientRect();
		if (r.width === 0 && r.height === 0) continue;
		if (r.right > width + 1 || r.left < -1) {
			const name = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
				(e.getAttribute('class') ? '.' + e.getAttribute('class').trim().split(/\s+/).join('.') : '');
			bad.push(name + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right));
		}
	}
	return JSON.stringify({width, scrollWidth: document.documentElement.scrollWidth, bad: bad.slice(0, 15)});
})()`

// checkNoOverflow fails the test if any element of the page is wider than
// the viewport.
func (p *tab) checkNoOverflow(what string) {
	p.t.Helper()
	var got struct {
		Width       int      `json:"width"`
		ScrollWidth int      `json:"scrollWidth"`
		Bad         []string `json:"bad"`
	}
	if err := json.Unmarshal([]byte(evalJS[string](p, overflowJS)), &got); err != nil {
		p.t.Fatal(err)
	}
	if len(got.Bad) > 0 || got.ScrollWidth > got.Width {
		p.t.Errorf("%s at %d px: page %d px wide; elements beyond the viewport: %s", what, got.Width, got.ScrollWidth, strings.Join(got.Bad, "; "))
	}
}

// screenshot saves what the viewport shows as an artefact.
func (p *tab) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	saveArtefact(p.t, name, png)
}

// TestConsoleNarrowLayout: at 420 px no page scrolls sideways: overview,
// job list, the pages of a running, a queued and a destroyed job, the
// machine page with the details panel and an action dialog open.
func TestConsoleNarrowLayout(t *testing.T) {
	srv := startServer(t, config.Demo(), Options{AdminToken: consoleToken})
	p := openTab(t, srv, 420, 900)
	c := srv.dial(t)
	ctx := context.Background()
	running := srv.createJob(t, c, []any{2, 1}, map[string]any{"owner": "a-rather-long-owner-name@example.org", "machine": "demo-4x2"})
	queued := srv.createJob(t, c, []any{4, 2}, map[string]any{"owner": "bob", "machine": "demo-4x2", "max_dead_boards": 1})
	ended := srv.createJob(t, c, nil, map[string]any{"owner": "carol", "tags": []string{"single"}})
	eventually(t, "the single-board job powered", func() bool {
		j, err := srv.svc.JobDetail(ctx, ended)
		return err == nil && len(j.PendingOps) == 0 && j.ReadyAt != nil
	})
	reason := "Cancelled: a long reason that an owner typed into the client, to see that it wraps on a phone"
	if err := srv.svc.DestroyJob(ctx, ended, &reason, ""); err != nil {
		t.Fatal(err)
	}

	pages := []struct{ path, ready, name string }{
		{"/", `document.querySelectorAll('#job-rows tr[data-job]').length === 2`, "overview"},
		{"/jobs", `document.querySelectorAll('#jobs-rows tr[data-job]').length === 3`, "jobs"},
		{fmt.Sprintf("/jobs/%d", running), `!!document.querySelector('#job-map svg.map') &&
			/last seen \d+s ago from 127\.0\.0\.1 · expires in \d+s/.test(document.querySelector('#job-summary').innerText)`, "job"},
		{fmt.Sprintf("/jobs/%d", queued), `/May run on\s+demo-4x2 \(#1 in its queue\)/.test(document.querySelector('#job-summary').innerText)`, "queued job"},
		{fmt.Sprintf("/jobs/%d", ended), `!!document.querySelector('#job-map polygon.held')`, "destroyed job"},
		{"/machines/demo-4x2", `document.querySelectorAll('#bmp-panel li.bmp').length === 1`, "machine"},
	}
	for _, pg := range pages {
		p.open(pg.path)
		p.await(pg.ready, pg.name+" page filled")
		p.checkNoOverflow(pg.name + " page")
		if pg.name == "job" {
			p.screenshot("console-narrow-job.png")
		}
	}

	p.click(hexSel("demo-4x2", geometry.Board{}))
	p.await(`!document.querySelector('#details').hidden`, "the details panel")
	p.checkNoOverflow("machine page with the board details")
	p.click(`#details [data-action=out_of_service]`)
	p.await(`!!document.querySelector('#action-dialog[open]')`, "the action dialog")
	p.checkNoOverflow("machine page with an action dialog")
	p.screenshot("console-narrow-dialog.png")
}

// TestConsoleFacilityMachine: the 1200-board example machine's page stays
// readable: labels are left out where they would be too small and appear
// when zoomed in; BMPs are grouped by cabinet and frame with an unreachable
// one marked and its error shown; the utilisation shows the job's share;
// and the page fits a phone.
func TestConsoleFacilityMachine(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "examples", "spinnaker-1200.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Machines[0].FakeBMP = &config.FakeBMP{}
	srv := startServer(t, cfg, Options{AdminToken: consoleToken})
	ctx := context.Background()
	c := srv.dial(t)
	big := srv.createJob(t, c, []any{6, 6}, map[string]any{"owner": "big-model"}) // 108 boards
	// Once the job is ready every BMP worker has started (a starting worker
	// reports its BMP reachable); then one BMP is marked unreachable.
	eventually(t, "the 108-board job ready", func() bool {
		j, err := srv.svc.JobDetail(ctx, big)
		return err == nil && j.ReadyAt != nil
	})
	bmps, err := srv.svc.MachineBMPs(ctx, "spinnaker1m")
	if err != nil {
		t.Fatal(err)
	}
	down := bmps[len(bmps)-1]
	if err := srv.svc.SetBMPReachable(ctx, down.ID, false, "no reply after 3 attempts"); err != nil {
		t.Fatal(err)
	}

	p := openTab(t, srv, 1400, 1000)
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
	downSel := fmt.Sprintf(`#bmp-panel .cabinet[data-cabinet="%d"] li.bmp.down[data-frame="%d"]`, down.Cabinet, down.Frame)
	if got := p.text(downSel); !strings.Contains(got, "unreachable since") || !strings.Contains(got, "no reply after 3 attempts") {
		t.Errorf("the unreachable BMP's line: %q", got)
	}
	if n := evalJS[int](p, `document.querySelectorAll('#bmp-panel li.bmp.down').length`); n != 1 {
		t.Errorf("%d BMPs marked down, want 1", n)
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

	p.do(chromedp.EmulateViewport(420, 900))
	p.open("/machines/spinnaker1m")
	p.await(`document.querySelectorAll('#bmp-panel li.bmp').length === 50`, "the BMP panel")
	p.checkNoOverflow("1200-board machine page")
}
