package consoletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const freeFill = "#e4ece1" // the dashboard's colour of a free board

// TestDashboardInBrowser opens the demo server's dashboard, checks the
// board maps, creates a job over the v1 protocol and sees its boards take
// the job's colour without a reload, then looks at the job's page and the
// machine's queue.
func TestDashboardInBrowser(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	want := map[string]int{"demo-4x2": 24, "demo-board": 1} // boards drawn: a single-board machine has one

	boardsOf := func(machine string) string {
		return fmt.Sprintf(`document.querySelectorAll('svg.map[data-machine=%q] polygon.board')`, machine)
	}
	p.open("/")
	p.await(`!!document.querySelector('svg.map[data-machine="demo-4x2"]') && !!document.querySelector('#live.on')`, "the maps, live")
	for name, n := range want {
		if got := evalJS[int](p, boardsOf(name)+".length"); got != n {
			t.Errorf("machine %s shows %d boards, want %d", name, got, n)
		}
	}
	// The single-board machine's card counts its one board, no dead ones.
	if got, want := evalJS[string](p, `document.querySelector('#machine-demo-board .counts').textContent`), "1 free · 0 queued"; got != want {
		t.Errorf("demo-board's card says %q, want %q", got, want)
	}
	freeBefore := evalJS[int](p, fmt.Sprintf(`[...%s].filter(p => p.getAttribute('fill') === %q).length`, boardsOf("demo-4x2"), freeFill))
	if freeBefore != want["demo-4x2"]-1 {
		t.Errorf("%d boards of demo-4x2 drawn free, want all but the dead one (%d)", freeBefore, want["demo-4x2"]-1)
	}
	// A reload would forget this.
	p.do(chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))

	// A 2 x 1 triad job over the protocol, as a user would make it.
	c := srv.dial(t)
	id := createJob(t, c, []any{2, 1}, map[string]any{"owner": "browser-test", "machine": "demo-4x2"})
	info := srv.job(t, id)
	if len(info.Boards) == 0 {
		t.Fatalf("job %d: %+v, want boards allocated at once on the empty machine", id, info)
	}
	p.await(fmt.Sprintf(`(() => {
		const ps = [...document.querySelectorAll('svg.map polygon.board[data-job="%d"]')];
		return ps.length === %d && ps.every(p => p.getAttribute('fill') !== %q);
	})()`, id, len(info.Boards), freeFill), "the job's boards to change colour on the open page")
	if !evalJS[bool](p, `window.__sameDocument === true`) {
		t.Fatal("the page was reloaded; it must update in place")
	}

	// Let the fake BMPs power the job and the job list say so.
	p.await(fmt.Sprintf(`!!document.querySelector('#job-rows tr[data-job="%d"] .badge.ready')`, id), "the job shown ready")

	// Two more jobs for the picture: a single board that gets powered, and
	// a whole-machine job that has to wait (and says why).
	single := createJob(t, c, nil, map[string]any{"owner": "alice", "tags": []string{"single"}})
	createJob(t, c, []any{4, 2}, map[string]any{"owner": "bob", "machine": "demo-4x2"})
	p.await(fmt.Sprintf(`document.querySelectorAll('#job-rows tr').length === 3 &&
		!!document.querySelector('#job-rows tr[data-job="%d"] .badge.ready')`, single), "three jobs listed, the single board ready")
	p.fullScreenshot("dashboard.png")

	// Hovering a board of the job shows where it is; clicking it opens its
	// details with the job.
	pos := info.Boards[0]
	phys := srv.board(t, "demo-4x2", pos).Physical
	if phys == nil {
		t.Fatalf("board %v has no position", pos)
	}
	hex := fmt.Sprintf(`document.querySelector(%q)`, hexSel("demo-4x2", pos))
	tip := evalJS[string](p, fmt.Sprintf(`(() => {
		const r = %s.getBoundingClientRect();
		%s.dispatchEvent(new MouseEvent('mouseenter', {clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));
		const tip = document.getElementById('tooltip');
		return tip.hidden ? '' : tip.innerText;
	})()`, hex, hex))
	for _, w := range []string{fmt.Sprintf("board (%d, %d, %d)", pos[0], pos[1], pos[2]),
		fmt.Sprintf("c%d f%d b%d", phys[0], phys[1], phys[2]), fmt.Sprintf("job %d", id)} {
		if !strings.Contains(tip, w) {
			t.Errorf("tooltip %q lacks %q", tip, w)
		}
	}
	p.click(hexSel("demo-4x2", pos))
	p.await(`!document.querySelector('#details').hidden`, "the board's details")
	panel := p.text(`#details`)
	for _, w := range []string{fmt.Sprintf("cabinet %d, frame %d, board %d", phys[0], phys[1], phys[2]), "10.11.0.", fmt.Sprintf("job %d", id)} {
		if !strings.Contains(panel, w) {
			t.Errorf("details panel %q lacks %q", panel, w)
		}
	}

	// The job's page: its boards stand out, the others are dimmed, and the
	// history shows its life so far.
	p.open(fmt.Sprintf("/jobs/%d", id))
	p.await(`!!document.querySelector('#job-map svg.map') && !!document.querySelector('#job-history li.ready')`, "the job's map and history")
	p.fullScreenshot("dashboard-job.png")
	if lit := evalJS[int](p, `document.querySelectorAll('#job-map polygon.board:not(.dim)').length`); lit != len(info.Boards) {
		t.Errorf("job page highlights %d boards, want the job's %d", lit, len(info.Boards))
	}
	if history := evalJS[int](p, `document.querySelectorAll('#job-history li').length`); history < 3 {
		t.Errorf("job history shows %d entries, want at least created, allocated, ready", history)
	}

	// The machine's page lists its queue (bob's whole-machine job).
	p.open("/machines/demo-4x2")
	p.await(`!!document.querySelector('#machine-map svg.map') && !!document.querySelector('#queue-rows tr[data-job]')`, "the machine's map and queue")
	if queued := evalJS[int](p, `document.querySelectorAll('#queue-rows tr[data-job]').length`); queued != 1 {
		t.Errorf("machine page lists %d queued jobs, want 1", queued)
	}
}
