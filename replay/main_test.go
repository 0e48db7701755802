package replay

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestMainJSONHasExactlyTheReferenceKeys: --json prints one object whose
// keys are the names used in reference.json, and the waits of the large
// jobs.
func TestMainJSONHasExactlyTheReferenceKeys(t *testing.T) {
	code, out, errs := runMain(t, "--trace", "testdata/tiny.csv", "--machine", "testdata/tiny.machine.json", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not one JSON object of numbers: %v\n%s", err, out)
	}
	want := []string{"jobs", "allocated", "rejected", "wait_mean_s", "wait_median_s", "wait_p95_s", "wait_max_s",
		"makespan_s", "util_requested", "util_handed", "util_held", "create_p50_us", "create_p99_us",
		"destroy_p50_us", "destroy_p99_us", "allocs_per_s", "replay_wall_s", "large_wait_p95_s", "large_wait_max_s"}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v\nwant %v", keys, want)
	}
	if got["jobs"] != 7 || got["rejected"] != 1 || got["makespan_s"] != 23 {
		t.Errorf("jobs %v rejected %v makespan %v; want 7, 1, 23", got["jobs"], got["rejected"], got["makespan_s"])
	}
}

func TestMainTableFindsTheMachineFileAndWritesAPlot(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "tiny.svg")
	code, out, errs := runMain(t, "--trace", "testdata/tiny.csv", "--plot", plot, "--progress", "lines")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"trace tiny: 7 jobs on tiny (1x1 triads, 3 working boards", "wait mean s", "5.8",
		"util_held", "0.913", "replay wall s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "tiny: 100%") {
		t.Errorf("no progress lines on stderr: %q", errs)
	}
	data, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the plot is not well-formed XML: %v", err)
		}
	}
	if !bytes.Contains(data, []byte("<polyline")) || !bytes.Contains(data, []byte("queue length")) {
		t.Errorf("the plot lacks its curves")
	}
}

// writeReference writes a reference.json for the tiny trace that lists
// impossible as its impossible jobs.
func writeReference(t *testing.T, impossible []int64) string {
	t.Helper()
	ref := map[string]any{"traces": map[string]any{"tiny": map[string]any{
		"bounds": map[string]any{"jobs": 7, "impossible_ids": impossible, "impossible": len(impossible),
			"possible": 7 - len(impossible), "offered_load": 0.3, "working_boards": 3,
			"pool_fifo": map[string]any{"util_requested": 0.5, "wait_mean_s": 1.0}},
		"peer_quality": map[string]any{"jobs": 7, "util_requested": 0.4, "wait_mean_s": 10.0},
	}}}
	data, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reference.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMainChecksTheRejectedJobsAgainstTheReference(t *testing.T) {
	good := writeReference(t, []int64{5})
	code, out, errs := runMain(t, "--trace", "testdata/tiny.csv", "--reference", good)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"rejected exactly the impossible jobs: yes (1 jobs)", "original", "pool-FIFO bound", "goals:",
		"0.58 better", // wait mean 5.8 s against the original's 10 s
		"1.23 better", // util_requested 0.493 against 0.400
		"ok   tiny", "util_requested 0.493 >= original 0.400"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	bad := writeReference(t, []int64{4})
	code, _, errs = runMain(t, "--trace", "testdata/tiny.csv", "--reference", bad)
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if !strings.Contains(errs, "rejected but possible: [5]; impossible but not rejected: [4]") {
		t.Errorf("stderr %q does not name the wrong jobs", errs)
	}
}

func TestMainReportsBadInput(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.csv")
	if err := os.WriteFile(broken, []byte(header+"1,0,none,,,,,,,0,,,-5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lonely := filepath.Join(dir, "lonely.csv")
	if err := os.WriteFile(lonely, []byte(header+"1,0,none,,,,,,,0,,,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no trace", nil, "no trace given"},
		{"machine with two traces", []string{"--machine", "m.json", "a.csv", "b.csv"}, "--machine needs exactly one trace"},
		{"progress", []string{"--progress", "fancy", "a.csv"}, `--progress "fancy"`},
		{"missing trace", []string{filepath.Join(dir, "none.csv")}, "none.csv"},
		{"bad row", []string{"--machine", "testdata/tiny.machine.json", broken}, "broken.csv:2: duration_s"},
		{"missing machine file", []string{"--trace", lonely}, "lonely.machine.json"},
		{"unknown reference trace", []string{"--reference", "testdata/reference.json", "testdata/tiny.csv"}, `has no trace "tiny"`},
		{"machine and config", []string{"--machine", "m.json", "--config", "c.toml", "a.csv"}, "give one"},
		{"machine name without config", []string{"--machine-name", "spin", "a.csv"}, "give --config FILE too"},
		{"unknown machine name", []string{"--config", "../examples/spinn-24.toml", "--machine-name", "nope", "testdata/tiny.csv"},
			`no machine "nope" (it has spinn-24)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runMain(t, tc.args...)
			if code != ExitUsage || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, ExitUsage, tc.want)
			}
		})
	}
}

// TestMainReplaysOnAConfiguredMachine: --config replays a trace on a
// machine of an operator's configuration file: its size, dead boards and
// dead links; jobs it cannot ever hold are rejected, and no reference is
// compared (its figures are for the trace's own machine).
func TestMainReplaysOnAConfiguredMachine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "spalloc.toml")
	os.WriteFile(cfg, []byte(`[server]
free_delay = "0s"
[[machine]]
name = "board-a"
single_board = { bmp_ip = "10.4.0.0", spinnaker_ip = "10.4.0.1" }
[[machine]]
name = "m3"
dead_boards = [[0, 0, 2]]
bmps = [{ cf = [0, 0], ip = "10.3.0.0" }]
boards = [
  { xyz = [0, 0, 0], cfb = [0, 0, 0], ip = "10.3.0.1" },
  { xyz = [0, 0, 1], cfb = [0, 0, 1], ip = "10.3.0.9" },
]
`), 0o644)
	code, out, errs := runMain(t, "--trace", "testdata/tiny.csv", "--config", cfg, "--machine-name", "m3", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	// m3 has 2 working boards: the 1x1-triad jobs 2 and 7 need the whole
	// triad, which max_dead_boards 0 refuses with (0,0,2) dead; the 4-board
	// job 5 is too big; job 6 asks for machine "tiny"; the single boards
	// 1, 3 and 4 run.
	if m["rejected"] != 4.0 || m["allocated"] != 3.0 {
		t.Errorf("on m3: rejected %v, allocated %v; want 4 and 3", m["rejected"], m["allocated"])
	}
	code, out, errs = runMain(t, "--trace", "testdata/tiny.csv", "--config", cfg)
	if code != ExitOK || !strings.Contains(out, "tiny: 7 jobs on board-a (1x1 triads, 1 working boards") {
		t.Errorf("without --machine-name: exit %d, %s %s; want the first machine, board-a", code, out, errs)
	}
	if strings.Contains(out, "original") {
		t.Errorf("a replay on a configured machine is compared with the original's figures:\n%s", out)
	}
}

// TestExampleTracesAreComplete: every trace shipped in examples/traces has
// its machine file and its reference figures, so that simulate compares it
// with the original from a fresh clone.
func TestExampleTracesAreComplete(t *testing.T) {
	traces, _ := filepath.Glob("../examples/traces/*.csv")
	if len(traces) == 0 {
		t.Fatal("no traces in examples/traces")
	}
	ref, err := ReadReference("../examples/traces/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range traces {
		tr, ms := load(t, path, strings.TrimSuffix(path, ".csv")+".machine.json")
		r, ok := ref.Traces[TraceName(path)]
		if !ok {
			t.Errorf("%s has no entry in reference.json", path)
			continue
		}
		if len(tr.Jobs) != r.Original.Jobs || ms.WorkingBoards() != r.Bounds.WorkingBoards {
			t.Errorf("%s: %d jobs on %d working boards; reference.json says %d on %d",
				path, len(tr.Jobs), ms.WorkingBoards(), r.Original.Jobs, r.Bounds.WorkingBoards)
		}
	}
}
