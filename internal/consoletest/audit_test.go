package consoletest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConsoleAuditLog: the audit page lists who did what and filters by
// who, action, machine, board, job and time, in pages; a job's page and a
// board's details show the changes made to them.
func TestConsoleAuditLog(t *testing.T) {
	srv := startDemo(t)
	c := srv.dial(t)
	const m = "demo-4x2"
	board := "/machines/" + m + "/boards/2/1/0"
	victim := createJob(t, c, nil, map[string]any{"owner": "kim", "tags": []string{"single"}})
	srv.change(t, aliceToken, http.MethodPost, board+"/out_of_service", map[string]any{"reason": "fan noise"})
	srv.change(t, adminToken, http.MethodPost, board+"/in_service", nil)
	srv.change(t, aliceToken, http.MethodPost, "/machines/demo-board/drain", map[string]any{"reason": "cabling"})
	srv.change(t, aliceToken, http.MethodPost, "/machines/demo-board/undrain", nil)
	srv.change(t, adminToken, http.MethodPost, fmt.Sprintf("/jobs/%d/destroy", victim), map[string]any{"reason": "cleanup"})
	for range 13 { // 26 link changes, to fill more than a page
		srv.change(t, adminToken, http.MethodPut, "/machines/"+m+"/boards/0/0/0/links/north", map[string]any{"dead": true})
		srv.change(t, adminToken, http.MethodPut, "/machines/"+m+"/boards/0/0/0/links/north", map[string]any{"dead": false})
	}

	p := openTab(t, srv.url, 1400, 1000)
	rows := `document.querySelectorAll('#audit-rows tr[data-audit]')`
	apply := func(field, value string) {
		t.Helper()
		p.applyFilter("#audit-filters", "#audit-rows", field, value)
	}
	p.open("/audit?limit=25")
	if n := evalJS[int](p, rows+".length"); n != 25 {
		t.Fatalf("first page shows %d entries, want 25", n)
	}
	if got := p.text(`#audit-page`); got != "1–25 of 31" {
		t.Errorf("pager says %q", got)
	}
	p.click(`#audit-next`)
	p.await(`document.querySelector('#audit-page').innerText === '26–31 of 31'`, "the second page")
	if got := p.text(`#audit-rows`); !strings.Contains(got, "fan noise") || !strings.Contains(got, "alice") {
		t.Errorf("the oldest entries lack alice's out-of-service reason: %q", got)
	}
	p.screenshot("console-audit.png")

	apply("by", "alice")
	if actions := evalJS[[]string](p, `[...`+rows+`].map(r => r.dataset.action)`); strings.Join(actions, " ") != "undrain drain board_out_of_service" {
		t.Errorf("alice's changes, newest first: %v", actions)
	}
	apply("by", "")
	apply("action", "destroy_job")
	if got := p.text(`#audit-rows`); evalJS[int](p, rows+".length") != 1 || !strings.Contains(got, "cleanup") || !strings.Contains(got, "operator") {
		t.Errorf("job destructions: %q, want the one by operator with its reason", got)
	}
	if href := evalJS[string](p, `document.querySelector('#audit-rows td a').getAttribute('href')`); href != fmt.Sprintf("/jobs/%d", victim) {
		t.Errorf("the destroyed job's entry links to %q", href)
	}
	apply("action", "")
	apply("machine", "demo-board")
	if n := evalJS[int](p, rows+".length"); n != 3 { // drain, undrain, and the job destroyed on it
		t.Errorf("demo-board's changes: %d rows, want 3: %q", n, p.text(`#audit-rows`))
	}
	apply("machine", m)
	apply("board", "2,1,0")
	if n := evalJS[int](p, rows+".length"); n != 2 {
		t.Errorf("board (2, 1, 0)'s changes: %d rows, want 2", n)
	}
	apply("board", "2,1")
	p.await(`!document.querySelector('#audit-error').hidden && /board/.test(document.querySelector('#audit-error').innerText)`, "the API's error for a bad board")
	apply("board", "")
	apply("machine", "")
	apply("job", fmt.Sprint(victim))
	if n := evalJS[int](p, rows+".length"); n != 1 {
		t.Errorf("job %d's changes: %d rows, want 1", victim, n)
	}
	apply("job", "")
	apply("until", time.Now().Add(-time.Hour).Format("2006-01-02T15:04"))
	if got := p.text(`#audit-rows`); !strings.Contains(got, "No change matches") {
		t.Errorf("changes an hour ago: %q", got)
	}
	apply("until", "")

	// The job's page and the board's details show their own changes.
	p.open(fmt.Sprintf("/jobs/%d", victim))
	p.await(`document.querySelectorAll('#job-audit li[data-action=destroy_job]').length === 1`, "the job's destruction in its page")
	if got := p.text(`#job-audit`); !strings.Contains(got, "operator destroyed: cleanup") {
		t.Errorf("the job's operator actions: %q", got)
	}
	p.open("/machines/" + m)
	p.click(hexSel(m, [3]int{2, 1, 0}))
	p.await(`document.querySelectorAll('#details .board-audit li').length === 2`, "the board's two changes in its details")
	if got := p.text(`#details .board-audit`); !strings.Contains(got, "alice took out of service: fan noise") || !strings.Contains(got, "operator returned to service") {
		t.Errorf("the board's operator actions: %q", got)
	}
	p.click(hexSel(m, [3]int{0, 0, 0}))
	p.await(`/all 26 changes/.test(document.querySelector('#details .board-audit').innerText)`, "the link to all 26 changes of board (0, 0, 0)")
	if n := evalJS[int](p, `document.querySelectorAll('#details .board-audit li').length`); n != 5 {
		t.Errorf("board (0, 0, 0)'s details list %d changes, want the latest 5", n)
	}
}
