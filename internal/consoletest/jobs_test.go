package consoletest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spalloc/spallocd/internal/testutil"
)

// applyFilter sets field of the filter form to value as a user would
// (a change event), and waits until the rows of list answer the new filters.
func (p *tab) applyFilter(form, list, field, value string) {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const f = document.querySelector(%q).elements[%q];
		f.value = %q;
		f.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, form, field, value)))
	p.awaitShown(list)
}

// awaitShown waits until the rows of list answer the filters in the URL
// (their refresh is done).
func (p *tab) awaitShown(list string) {
	p.t.Helper()
	p.await(fmt.Sprintf(`document.querySelector(%q).dataset.shown === location.search`, list), "the list to show the filters")
}

// TestConsoleJobList filters the job list by state, owner, machine and
// time range and pages through it.
func TestConsoleJobList(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	c := srv.dial(t)
	big := createJob(t, c, []any{1, 1}, map[string]any{"owner": "alice", "machine": "demo-4x2"})
	reason := "Cancelled: tired of waiting"
	if err := c.DestroyJob(testutil.Ctx(t), big, &reason); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ { // one runs, the rest queue on the single board
		createJob(t, c, nil, map[string]any{"owner": "bob", "tags": []string{"single"}})
	}
	rows := `document.querySelectorAll('#jobs-rows tr[data-job]')`
	apply := func(field, value string) {
		t.Helper()
		p.applyFilter("#job-filters", "#jobs-rows", field, value)
	}

	p.open("/jobs?limit=25")
	if n := evalJS[int](p, rows+".length"); n != 25 {
		t.Fatalf("first page shows %d jobs, want 25", n)
	}
	if got := p.text(`#jobs-page`); got != "1–25 of 31" {
		t.Errorf("pager says %q", got)
	}
	p.click(`#jobs-next`)
	p.awaitShown("#jobs-rows")
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
