package replay

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Reference is reference.json: the original's numbers and each trace's
// limits, by trace name (the file name without ".csv").
type Reference struct {
	Traces map[string]TraceReference `json:"traces"`
}

// TraceReference is one trace's entry of reference.json.
type TraceReference struct {
	Bounds   Bounds     `json:"bounds"`
	Original Metrics    `json:"peer_quality"`       // the original's quality numbers
	Timing   PeerTiming `json:"peer_timing_median"` // the original's speed numbers
}

// PeerTiming is the original's speed on a trace (median of its replays).
type PeerTiming struct {
	CreateP50  float64 `json:"create_p50_us"`
	CreateP99  float64 `json:"create_p99_us"`
	DestroyP50 float64 `json:"destroy_p50_us"`
	DestroyP99 float64 `json:"destroy_p99_us"`
	AllocsPerS float64 `json:"allocs_per_s"`
	SchedTime  float64 `json:"sched_time_s"`
	ReplayWall float64 `json:"replay_wall_s"`
	ReplayCPU  float64 `json:"replay_cpu_s"`
}

// Bounds are the limits of a trace: the pool-FIFO and fluid bounds of the
// README's "Replaying job traces".
type Bounds struct {
	Jobs          int     `json:"jobs"`
	Possible      int     `json:"possible"`
	Impossible    int     `json:"impossible"`
	ImpossibleIDs []int64 `json:"impossible_ids"`
	OfferedLoad   float64 `json:"offered_load"`
	WorkingBoards int     `json:"working_boards"`
	Fluid         struct {
		MakespanLB      float64 `json:"makespan_lb_s"`
		UtilRequestedUB float64 `json:"util_requested_ub"`
		WaitMeanLB      float64 `json:"wait_mean_lb_s"`
	} `json:"fluid"`
	PoolFIFO struct {
		Makespan      float64 `json:"makespan_s"`
		UtilRequested float64 `json:"util_requested"`
		WaitMean      float64 `json:"wait_mean_s"`
		WaitMedian    float64 `json:"wait_median_s"`
		WaitP95       float64 `json:"wait_p95_s"`
	} `json:"pool_fifo"`
}

// ReadReference reads reference.json.
func ReadReference(path string) (*Reference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading reference: %w", err)
	}
	doc, err := parseJSONDoc(data, path)
	if err != nil {
		return nil, err
	}
	if err := doc.wantKind(doc.root, "top level", jObject); err != nil {
		return nil, err
	}
	tn, ok := doc.root.obj["traces"]
	if !ok {
		return nil, doc.errorf(doc.root, "top level", `missing key "traces"`)
	}
	if err := doc.wantKind(tn, "traces", jObject); err != nil {
		return nil, err
	}
	var ref Reference
	if err := json.Unmarshal(data, &ref); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ref, nil
}

// Mismatch compares the rejected jobs of a replay with the impossible ones:
// it returns the ids rejected but possible, and impossible but not
// rejected.
func (b *Bounds) Mismatch(rejected []int64) (wrongly, missed []int64) {
	imp := slices.Clone(b.ImpossibleIDs)
	slices.Sort(imp)
	for _, id := range rejected {
		if _, found := slices.BinarySearch(imp, id); !found {
			wrongly = append(wrongly, id)
		}
	}
	rej := slices.Clone(rejected)
	slices.Sort(rej)
	for _, id := range imp {
		if _, found := slices.BinarySearch(rej, id); !found {
			missed = append(missed, id)
		}
	}
	return wrongly, missed
}
