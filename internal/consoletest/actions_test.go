package consoletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
)

// The operator console's actions, each done from the page it belongs on
// and checked through the API.

// TestConsoleBoardActions drives every board action from the board details
// panel: out of service (a wrong token first: the API's error is shown, and
// nothing changes), maintenance power on and off, a link dead and alive,
// return to service, a cancelled confirmation, and out of service with the
// board's job destroyed.
func TestConsoleBoardActions(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	const m = "demo-4x2"
	b := [3]int{2, 1, 0}
	p.open("/machines/" + m)
	p.click(hexSel(m, b))
	p.await(fmt.Sprintf(`document.querySelector('#details').dataset.board === %q && !document.querySelector('#details').hidden`,
		fmt.Sprintf("%s/%d/%d/%d", m, b[0], b[1], b[2])), "the board's details panel")

	// Cancelling a destructive action changes nothing.
	p.clickUntil(`#details [data-action=out_of_service]`, `!!document.querySelector('#action-dialog[open] input[name=token]:not([hidden])')`, "the dialog asking for the token")
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
	p.typeInto(`#action-dialog input[name=token]`, adminToken)
	p.click(`#action-dialog button[type=submit]`)
	p.dialogClosed()
	if bi := srv.board(t, m, b); bi.OutOfService == nil || *bi.OutOfService != "fan noise" {
		t.Fatalf("board not out of service for the reason given: %+v", bi)
	}
	p.await(fmt.Sprintf(`document.querySelector(%q).getAttribute('fill') === %q`, hexSel(m, b), "#f0a04b"), "the board drawn out of service")
	if stored := evalJS[string](p, `sessionStorage.getItem('spallocd.admin-token')`); stored != adminToken {
		t.Errorf("token kept in sessionStorage: %q", stored)
	}

	// Maintenance power: asked once more for confirmation, not for the token.
	p.await(`!!document.querySelector('#details [data-action=power_on]')`, "the power-on action of an out-of-service board")
	p.screenshot("console-board.png")
	p.clickUntil(`#details [data-action=power_on]`, `!!document.querySelector('#action-dialog[open]')`, "the confirmation")
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
		var md struct {
			DeadLinks []struct {
				Board [3]int `json:"board"`
				Link  string `json:"link"`
			} `json:"dead_links"`
		}
		srv.get(t, "/machines/"+m, &md)
		for _, l := range md.DeadLinks {
			if l.Board == b && l.Link == "north" {
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
	id := createJob(t, c, nil, map[string]any{"owner": "frank", "tags": []string{"single"}})
	p.open("/machines/demo-board")
	p.click(hexSel("demo-board", [3]int{}))
	// The page may first draw the board as it was before the job got it
	// (live updates follow): the dialog offers what the panel shows.
	p.await(fmt.Sprintf(`!!document.querySelector('#details a[href="/jobs/%d"]')`, id), "the single board's details with its job")
	p.await(`!!document.querySelector('#details [data-action=out_of_service]')`, "the single board's out-of-service action")
	p.clickUntil(`#details [data-action=out_of_service]`, `!!document.querySelector('#action-dialog[open] input[name=destroy_job]')`, "the choice to destroy the board's job")
	p.click(`#action-dialog input[name=destroy_job]`)
	p.confirm("smoke from the board", "")
	p.dialogClosed()
	if j := srv.job(t, id); j.State != "destroyed" || j.Reason == nil || !strings.Contains(*j.Reason, "smoke from the board") {
		t.Fatalf("job on the board taken out of service: %+v, want destroyed with the reason", j)
	}
}

// TestConsoleJobAndStopActions destroys a job from its page (also a
// failure: the job destroyed behind the page's back), then stops and
// resumes everything from the machine page, with the banner telling why,
// when and who (the name of the token that stopped it).
func TestConsoleJobAndStopActions(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	c := srv.dial(t)
	id := createJob(t, c, []any{2, 1}, map[string]any{"owner": "carol", "machine": "demo-4x2", "min_ratio": 0})
	other := createJob(t, c, nil, map[string]any{"owner": "dave", "tags": []string{"single"}})

	// A failure shows the API's error: the job is gone by the time the
	// operator confirms.
	p.open(fmt.Sprintf("/jobs/%d", other))
	p.clickUntil(`#job-actions [data-action=destroy_job]`, `!!document.querySelector('#action-dialog[open]')`, "the destroy dialog")
	reason := "gone already"
	if err := c.DestroyJob(testutil.Ctx(t), other, &reason); err != nil {
		t.Fatal(err)
	}
	p.confirm("too late", aliceToken)
	p.await(`(document.querySelector('#action-dialog[open] .error') || {}).innerText.includes('already destroyed')`, "the conflict shown")
	p.click(`#action-dialog .buttons button[type=button]`)

	p.open(fmt.Sprintf("/jobs/%d", id))
	if req := p.text(`#job-summary`); !strings.Contains(req, "2×1 triads on machine demo-4x2, min_ratio 0") {
		t.Errorf("job summary does not give the request in words: %q", req)
	}
	p.click(`#job-actions [data-action=destroy_job]`)
	p.confirm("maintenance window", "")
	p.dialogClosed()
	if j := srv.job(t, id); j.State != "destroyed" || j.Reason == nil || *j.Reason != "maintenance window" {
		t.Fatalf("job after destroy: %+v", j)
	}
	p.await(`document.querySelector('#job-state .badge').innerText === 'destroyed'`, "the page showing the job destroyed")
	p.await(`document.querySelectorAll('#job-map polygon.board.held').length === 6`, "the six boards it had outlined")
	if got := p.text(`#job-summary`); !strings.Contains(got, "maintenance window") {
		t.Errorf("destroyed job's summary lacks the reason: %q", got)
	}
	if got := p.text(`#job-history li.destroyed`); !strings.Contains(got, "by operator alice") {
		t.Errorf("destroyed job's history does not say who destroyed it: %q", got)
	}
	if n := evalJS[int](p, `document.querySelectorAll('#job-actions button').length`); n != 0 {
		t.Errorf("a destroyed job offers %d actions", n)
	}
	p.screenshot("console-job-destroyed.png")

	// Emergency stop from the machine page.
	createJob(t, c, nil, map[string]any{"owner": "erin", "tags": []string{"single"}})
	p.open("/machines/demo-4x2")
	p.click(`#machine-actions [data-action=emergency_stop]`)
	p.confirm("smoke in the machine room", "")
	p.dialogClosed()
	if !srv.emergencyStopped(t) {
		t.Fatal("no emergency stop in force")
	}
	p.await(`!document.querySelector('#banner').hidden && !!document.querySelector('#banner .stop-reason')`, "the emergency-stop banner")
	banner := p.text(`#banner`)
	for _, want := range []string{"smoke in the machine room", "by alice", "Since "} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner %q lacks %q", banner, want)
		}
	}
	p.screenshot("console-emergency-stop.png")
	p.click(`#banner [data-action=resume]`)
	p.await(`document.querySelector('#banner').hidden`, "the banner to go")
	if srv.emergencyStopped(t) {
		t.Fatal("still stopped after resume")
	}
}

// slowBoards are two single-board machines whose fake BMPs take seconds to
// power a board, so that a job is seen in state power and then ready.
const slowBoards = `[[machine]]
name = "slow-a"
single_board = { bmp_ip = "10.21.0.0", spinnaker_ip = "10.21.0.1" }
fake_bmp = { power_delay = "3s" }

[[machine]]
name = "slow-b"
single_board = { bmp_ip = "10.22.0.0", spinnaker_ip = "10.22.0.1" }
fake_bmp = { power_delay = "3s" }
`

// TestConsoleButtonsSurviveLiveUpdates: a live update that changes nothing
// about an action (the job or board powered meanwhile) keeps its button
// the same element, so that a click never lands on a button that a refresh
// has just replaced (it would be lost, and a test's click fails with "could
// not find node").
func TestConsoleButtonsSurviveLiveUpdates(t *testing.T) {
	srv := startServer(t, "", slowBoards)
	p := openTab(t, srv.url, 1400, 1000)
	c := srv.dial(t)

	a := createJob(t, c, nil, map[string]any{"owner": "grace", "machine": "slow-a"})
	p.open(fmt.Sprintf("/jobs/%d", a))
	p.await(`document.querySelector('#job-state').innerText === 'power' &&
		!!(window.kept = document.querySelector('#job-actions [data-action=destroy_job]'))`, "the job powering, with its action")
	p.await(`document.querySelector('#job-state').innerText === 'ready'`, "the job ready")
	if !evalJS[bool](p, `window.kept.isConnected`) {
		t.Error("the job page replaced its destroy button when the job became ready")
	}

	b := createJob(t, c, nil, map[string]any{"owner": "heidi", "machine": "slow-b"})
	p.open("/machines/slow-b")
	p.click(hexSel("slow-b", [3]int{}))
	p.await(`/Pending ops/.test(document.querySelector('#details').innerText) &&
		!!(window.kept = document.querySelector('#details [data-action=out_of_service]')) &&
		!!(window.keptLink = document.querySelector('#details [data-action=link_dead]'))`, "the board's details while it powers")
	srv.awaitJob(t, b, "ready", ready)
	p.await(`/Power\s+on/.test(document.querySelector('#details').innerText) && !/Pending ops/.test(document.querySelector('#details').innerText)`,
		"the details showing the board powered")
	if !evalJS[bool](p, `window.kept.isConnected && window.keptLink.isConnected`) {
		t.Error("the details panel replaced its action buttons when the board was powered")
	}
	// And the kept button works.
	p.clickUntil(`#details [data-action=out_of_service]`, `!!document.querySelector('#action-dialog[open] input[name=destroy_job]')`, "the out-of-service dialog of a board in a job")
}
