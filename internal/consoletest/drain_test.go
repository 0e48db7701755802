package consoletest

import (
	"fmt"
	"strings"
	"testing"
)

// drained is what the tests read of a machine's drain.
type drained struct {
	Drained *struct {
		Reason string  `json:"reason"`
		At     float64 `json:"at"`
		By     string  `json:"by"`
	} `json:"drained"`
}

// TestConsoleDrain drains a machine from its page and undrains it: the
// drain is recorded under the operator's name, the machine is marked
// drained on its page and on the overview, its running job keeps running,
// a job queued for it says why it waits, and starts once it is undrained.
func TestConsoleDrain(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 1400, 1000)
	c := srv.dial(t)
	const m = "demo-4x2"
	running := createJob(t, c, []any{2, 1}, map[string]any{"owner": "ivan", "machine": m})
	srv.awaitJob(t, running, "ready", ready)

	p.open("/machines/" + m)
	p.click(`#machine-actions [data-action=drain]`)
	p.confirm("firmware upgrade", aliceToken)
	p.dialogClosed()
	var got drained
	srv.get(t, "/machines/"+m, &got)
	if d := got.Drained; d == nil || d.Reason != "firmware upgrade" || d.By != "alice" {
		t.Fatalf("machine after the drain: %+v, want drained by alice for the reason given", d)
	}
	p.await(`!!document.querySelector('#machine-map .machine header .badge.drained') && !!document.querySelector('#machine-actions [data-action=undrain]')`,
		"the machine shown drained, with undrain offered")
	if got := p.text(`#machine-summary`); !strings.Contains(got, "firmware upgrade") || !strings.Contains(got, "By alice") {
		t.Errorf("the machine summary does not say why and by whom it is drained: %q", got)
	}
	p.screenshot("console-drained.png")

	// A new job waits, and says why; the running one is untouched.
	queued := createJob(t, c, []any{1, 1}, map[string]any{"owner": "judy", "machine": m})
	if j := srv.job(t, queued); j.State != "queued" {
		t.Fatalf("a job created on the drained machine is %s, want queued", j.State)
	}
	if j := srv.job(t, running); j.State != "ready" {
		t.Errorf("the running job is %s after the drain, want ready", j.State)
	}
	p.open(fmt.Sprintf("/jobs/%d", queued))
	p.await(`/machine drained: firmware upgrade/.test(document.querySelector('#job-summary').innerText)`, "the queued job's reason")
	p.open("/")
	p.await(fmt.Sprintf(`!!document.querySelector('#machine-%s header .badge.drained') && !document.querySelector('#machine-demo-board header .badge.drained')`, m),
		"the drained badge on the overview")

	// Undrain is not destructive: done at once (alice is signed in).
	p.open("/machines/" + m)
	p.click(`#machine-actions [data-action=undrain]`)
	srv.awaitJob(t, queued, "allocated", func(j job) bool { return j.State != "queued" })
	srv.get(t, "/machines/"+m, &got)
	if got.Drained != nil {
		t.Errorf("machine still drained after undrain: %+v", got.Drained)
	}
	p.await(`!document.querySelector('#machine-map .badge.drained') && !!document.querySelector('#machine-actions [data-action=drain]')`, "the drain gone from the page")
}

// TestConsoleFacilityLimits: under the facility's [policy], a job's page
// says when the maximum job duration ends it (beside its keepalive), and
// a job of an owner over the live-jobs limit says why it waits.
func TestConsoleFacilityLimits(t *testing.T) {
	srv := startServer(t, "[policy]\nmax_job_duration = \"2h\"\nmax_live_jobs_per_owner = 1\n", exampleMachines(t, "demo.toml", ""))
	p := openTab(t, srv.url, 1400, 1000)
	c := srv.dial(t)
	first := createJob(t, c, nil, map[string]any{"owner": "lena", "machine": "demo-4x2"})
	second := createJob(t, c, nil, map[string]any{"owner": "lena", "machine": "demo-4x2"})

	p.open(fmt.Sprintf("/jobs/%d", first))
	p.await(`/Keepalive\s+60 s · last seen/.test(document.querySelector('#job-summary').innerText) &&
		/Time limit\s+destroyed in (1h 59m|2h 0m) \(/.test(document.querySelector('#job-summary').innerText)`, "the keepalive and the time limit")
	p.open(fmt.Sprintf("/jobs/%d", second))
	p.await(`/Why it waits\s+owner limit: /.test(document.querySelector('#job-summary').innerText)`, "the owner limit as the reason it waits")
}
