package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const traceHeader = "job_id,arrival_s,form,v1,v2,v3,min_ratio,max_dead_boards,max_dead_links,require_torus,machine,tags,duration_s\n"

// replayText replays a trace given as CSV rows on one machine of w × h
// triads under a policy.
func replayText(t *testing.T, rows string, w, h int, policy string) *Result {
	t.Helper()
	tr, err := ParseTrace(strings.NewReader(traceHeader+rows), "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ParseMachines([]byte(fmt.Sprintf(`{"format": "spalloc-trace-machines/1", "trace": "test.csv",
		"seconds_before_free": 0, "machines": [{"name": "m", "tags": ["default"], "width": %d, "height": %d,
		"dead_boards": [], "dead_links": []}]}`, w, h)), "test.machine.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), tr, ms, Options{DBPath: filepath.Join(t.TempDir(), "r.db"), Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// allocatedAt maps trace job ids to when they got boards (ms).
func allocatedAt(res *Result) map[int64]int64 {
	out := map[int64]int64{}
	for _, o := range res.Outcomes {
		if o.Allocated {
			out[o.Job.ID] = o.AllocAt
		}
	}
	return out
}

// --policy chooses the order: on a 3×1 machine, jobs 1 and 2 take triads
// 0 and 1; job 3 (2×1) must wait for job 2; job 4 (1×1, at 30 s) fits on
// triad 0, freed at 20 s. Under fifo it waits for job 3 to start (at
// 50 s); under reserve job 3 reserves triads 1-2 and job 4 starts at
// once. Job 3 starts at 50 s under both.
func TestPolicyChoosesTheOrder(t *testing.T) {
	rows := `1,0,triads,1,1,,,,,0,,,20
2,0,triads,1,1,,,,,0,,,50
3,1,triads,2,1,,,,,0,,,10
4,30,triads,1,1,,,,,0,,,5
`
	for policy, want := range map[string]map[int64]int64{
		"fifo":    {1: 0, 2: 0, 3: 50000, 4: 50000},
		"reserve": {1: 0, 2: 0, 3: 50000, 4: 30000},
		"":        {1: 0, 2: 0, 3: 50000, 4: 30000}, // the default
	} {
		if got := allocatedAt(replayText(t, rows, 3, 1, policy)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("policy %q: allocated at %v ms, want %v", policy, got, want)
		}
	}
}

// The starvation probe of issue 16: on a 48-board machine kept full by an
// endless stream of one-hour single-board jobs (one every 75 s), a
// 48-board job arriving at 2 h waits at most an hour. A backfill without
// reservations would start every single-board job before it, for ever.
func TestStarvationProbe(t *testing.T) {
	var rows strings.Builder
	id := 1
	for at := 0; at <= 12*3600; at += 75 {
		if at == 2*3600 {
			fmt.Fprintf(&rows, "%d,%d,boards,48,,,,,,0,,,600\n", id, at)
			id++
		}
		fmt.Fprintf(&rows, "%d,%d,none,,,,,,,0,,,3600\n", id, at)
		id++
	}
	for _, policy := range []string{"reserve", "fifo"} {
		res := replayText(t, rows.String(), 4, 4, policy)
		for _, o := range res.Outcomes {
			if o.Job.Form != FormBoards {
				continue
			}
			if wait := o.AllocAt - o.Job.Arrival; !o.Allocated || wait > 3600*1000 {
				t.Errorf("%s: the 48-board job waited %d ms (allocated %v), more than an hour", policy, wait, o.Allocated)
			}
		}
	}
}

func TestMainRefusesAnUnknownPolicy(t *testing.T) {
	code, _, errs := runMain(t, "--trace", "testdata/tiny.csv", "--policy", "FIFO")
	if code != ExitUsage || !strings.Contains(errs, `--policy "FIFO": want reserve or fifo`) {
		t.Errorf("exit %d, stderr %q; want %d and the accepted values", code, errs, ExitUsage)
	}
}

// --compare-policies replays each trace under both policies and prints
// them side by side: on the tiny trace both give the by-hand figures
// (its one triad leaves nothing to let in beside a reservation).
func TestMainComparePolicies(t *testing.T) {
	code, out, errs := runMain(t, "--compare-policies", "--progress", "none", "testdata/tiny.csv")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if !strings.Contains(out, "| tiny | - | - | 5.8 | 5.8 |") || !strings.Contains(out, "large p95 s fifo") {
		t.Errorf("table lacks the tiny trace's row with both policies' mean wait 5.8 s:\n%s", out)
	}
	code, out, _ = runMain(t, "--compare-policies", "--json", "--progress", "none", "testdata/tiny.csv")
	var got map[string]map[string]Metrics
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil || got["tiny"]["fifo"].Jobs != 7 || got["tiny"]["reserve"].Jobs != 7 {
		t.Errorf("--json: exit %d, %v, %s", code, err, out)
	}
	code, _, errs = runMain(t, "--compare-policies", "--policy", "fifo", "testdata/tiny.csv")
	if code != ExitUsage || !strings.Contains(errs, "--compare-policies replays under both policies") {
		t.Errorf("--compare-policies --policy: exit %d, stderr %q", code, errs)
	}
}
