package bmp

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// testOp builds an op: id, kind ("on", "off", "lon", "loff"), board number
// and (for link ops) link.
func testOp(id int64, kind string, board int, link geometry.Link) service.BMPOp {
	kinds := map[string]service.OpKind{"on": service.OpPowerOn, "off": service.OpPowerOff, "lon": service.OpLinkOn, "loff": service.OpLinkOff}
	k, ok := kinds[kind]
	if !ok {
		k = service.OpKind(kind)
	}
	op := service.BMPOp{ID: id, BMPID: 1, BoardNum: board, Kind: k}
	if !isPower(k) {
		op.Links = []geometry.Link{link}
	}
	return op
}

// linksOp builds a link op that switches several links of a board.
func linksOp(id int64, kind string, board int, links ...geometry.Link) service.BMPOp {
	op := testOp(id, kind, board, links[0])
	op.Links = links
	return op
}

// describe renders a plan as "kind boards [links] ops" per step, e.g.
// "on[10 11] ops[1 2]" or "links[3] off[east south] ops[4 5]".
func describe(steps []step) []string {
	var out []string
	ids := func(ops []service.BMPOp) []int64 {
		var r []int64
		for _, o := range ops {
			r = append(r, o.ID)
		}
		return r
	}
	for _, s := range steps {
		var b strings.Builder
		switch s.kind {
		case stepPowerOn:
			fmt.Fprintf(&b, "on%v", s.boards)
		case stepPowerOff:
			fmt.Fprintf(&b, "off%v", s.boards)
		case stepLinks:
			dir := "off"
			if s.enable {
				dir = "on"
			}
			fmt.Fprintf(&b, "links%v %s%v", s.boards, dir, s.links)
		}
		fmt.Fprintf(&b, " ops%v", ids(s.ops))
		out = append(out, b.String())
	}
	return out
}

func TestPlanOps(t *testing.T) {
	const E, NE, N, W, SW, S = 0, 1, 2, 3, 4, 5
	tests := []struct {
		name string
		ops  []service.BMPOp
		want []string
		bad  []int64
	}{
		{
			name: "nothing",
			ops:  nil,
			want: nil,
		},
		{
			name: "BMP-02 consecutive power-offs merge into one packet",
			ops:  []service.BMPOp{testOp(1, "off", 10, 0), testOp(2, "off", 11, 0), testOp(3, "off", 13, 0)},
			want: []string{"off[10 11 13] ops[1 2 3]"},
		},
		{
			name: "BMP-03 no merging across directions",
			ops:  []service.BMPOp{testOp(1, "off", 10, 0), testOp(2, "on", 11, 0), testOp(3, "off", 12, 0)},
			want: []string{"off[10] ops[1]", "on[11] ops[2]", "off[12] ops[3]"},
		},
		{
			name: "BMP-04 power before links",
			ops:  []service.BMPOp{testOp(1, "on", 10, 0), testOp(2, "lon", 11, E), testOp(3, "off", 12, 0)},
			want: []string{"on[10] ops[1]", "off[12] ops[3]", "links[11] on[east] ops[2]"},
		},
		{
			name: "BMP-05 a triad job: one power-on, link writes per board",
			ops: []service.BMPOp{
				testOp(1, "on", 0, 0), testOp(2, "on", 1, 0), testOp(3, "on", 2, 0),
				testOp(4, "loff", 0, W), testOp(5, "loff", 0, SW), testOp(6, "loff", 1, E), testOp(7, "loff", 2, N),
			},
			want: []string{"on[0 1 2] ops[1 2 3]", "links[0] off[west south_west] ops[4 5]", "links[1] off[east] ops[6]", "links[2] off[north] ops[7]"},
		},
		{
			name: "power ops of the same direction merge even when unordered",
			ops:  []service.BMPOp{testOp(1, "on", 5, 0), testOp(2, "on", 2, 0), testOp(3, "on", 9, 0)},
			want: []string{"on[2 5 9] ops[1 2 3]"},
		},
		{
			name: "a board's link ops go before a later power op of that board",
			ops: []service.BMPOp{
				testOp(1, "on", 3, 0), testOp(2, "loff", 3, N), testOp(3, "loff", 4, S), testOp(4, "off", 3, 0),
			},
			want: []string{"on[3] ops[1]", "links[3] off[north] ops[2]", "off[3] ops[4]", "links[4] off[south] ops[3]"},
		},
		{
			name: "every power op is carried out, a board's in request order",
			ops: []service.BMPOp{
				testOp(1, "off", 7, 0), testOp(2, "on", 8, 0), testOp(3, "on", 7, 0), testOp(4, "loff", 7, NE),
			},
			want: []string{"off[7] ops[1]", "on[8] ops[2]", "on[7] ops[3]", "links[7] off[north_east] ops[4]"},
		},
		{
			name: "power-on again after links: set up twice, in order",
			ops: []service.BMPOp{
				testOp(1, "on", 0, 0), testOp(2, "loff", 0, E), testOp(3, "on", 0, 0), testOp(4, "loff", 0, E),
			},
			want: []string{"on[0] ops[1]", "links[0] off[east] ops[2]", "on[0] ops[3]", "links[0] off[east] ops[4]"},
		},
		{
			name: "a board's second power op goes in a later packet",
			ops:  []service.BMPOp{testOp(1, "on", 10, 0), testOp(2, "off", 11, 0), testOp(3, "off", 10, 0)},
			want: []string{"on[10] ops[1]", "off[11] ops[2]", "off[10] ops[3]"},
		},
		{
			name: "link directions per board keep their order",
			ops: []service.BMPOp{
				testOp(1, "loff", 2, E), testOp(2, "loff", 3, E), testOp(3, "lon", 2, E), testOp(4, "loff", 2, N), testOp(5, "lon", 3, W),
			},
			want: []string{"links[2] off[east] ops[1]", "links[3] off[east] ops[2]", "links[2] on[east] ops[3]", "links[2] off[north] ops[4]", "links[3] on[west] ops[5]"},
		},
		{
			name: "the same link twice is written once",
			ops:  []service.BMPOp{testOp(1, "loff", 2, S), testOp(2, "loff", 2, S)},
			want: []string{"links[2] off[south] ops[1 2]"},
		},
		{
			name: "an op with several links writes them in one step",
			ops: []service.BMPOp{
				testOp(1, "on", 0, 0), linksOp(2, "loff", 0, W, SW, S), linksOp(3, "loff", 1, E), testOp(4, "loff", 0, N),
			},
			want: []string{"on[0] ops[1]", "links[0] off[west south_west south north] ops[2 4]", "links[1] off[east] ops[3]"},
		},
		{
			name: "links before a power op of their board go first",
			ops:  []service.BMPOp{linksOp(1, "loff", 4, E, N), testOp(2, "off", 4, 0)},
			want: []string{"links[4] off[east north] ops[1]", "off[4] ops[2]"},
		},
		{
			name: "unknown kinds and bad links are set aside",
			ops: []service.BMPOp{testOp(1, "reboot", 2, 0), testOp(2, "loff", 2, 6), testOp(3, "loff", 2, -1), testOp(4, "on", 3, 0),
				linksOp(5, "loff", 2, E, 6), {ID: 6, BMPID: 1, BoardNum: 2, Kind: service.OpLinkOn}},
			want: []string{"on[3] ops[4]"},
			bad:  []int64{1, 2, 3, 5, 6},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			steps, bad := planOps(tc.ops)
			if got := describe(steps); !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n got %q\nwant %q", got, tc.want)
			}
			var badIDs []int64
			for _, o := range bad {
				badIDs = append(badIDs, o.ID)
			}
			if !slices.Equal(badIDs, tc.bad) {
				t.Errorf("set aside %v, want %v", badIDs, tc.bad)
			}
		})
	}
}

// TestPlanOpsProperties checks on generated op lists that each op is
// carried out exactly once; that the ops of a board are carried out in
// request order (a power op in a step of its own for that board); that no
// power packet names a board twice; and that a link op goes after every
// power packet unless a power op of its board follows it (BMP-04).
func TestPlanOpsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 16).Draw(t, "n")
		var ops []service.BMPOp
		for i := range n {
			kind := rapid.SampledFrom([]string{"on", "off", "lon", "loff"}).Draw(t, "kind")
			board := rapid.IntRange(0, 4).Draw(t, "board")
			link := geometry.Link(rapid.IntRange(0, 5).Draw(t, "link"))
			op := testOp(int64(i+1), kind, board, link)
			if !isPower(op.Kind) {
				for range rapid.IntRange(0, 2).Draw(t, "more links") {
					op.Links = append(op.Links, geometry.Link(rapid.IntRange(0, 5).Draw(t, "another link")))
				}
			}
			ops = append(ops, op)
		}
		steps, bad := planOps(ops)
		if len(bad) > 0 {
			t.Fatalf("valid ops set aside: %v", bad)
		}
		stepOf := map[int64]int{}
		lastPower := -1
		for i, s := range steps {
			for _, o := range s.ops {
				if _, twice := stepOf[o.ID]; twice {
					t.Fatalf("op %d carried out twice: %q", o.ID, describe(steps))
				}
				stepOf[o.ID] = i
			}
			if s.kind != stepLinks {
				lastPower = i
				if len(slices.Compact(slices.Clone(s.boards))) != len(s.boards) {
					t.Fatalf("a power packet names a board twice: %q", describe(steps))
				}
			}
		}
		for k, o := range ops {
			i, ok := stepOf[o.ID]
			if !ok {
				t.Fatalf("op %d not carried out: %q", o.ID, describe(steps))
			}
			powerFollows := false
			for _, later := range ops[k+1:] {
				if later.BoardNum != o.BoardNum {
					continue
				}
				j := stepOf[later.ID]
				if j < i || (j == i && (isPower(o.Kind) || isPower(later.Kind))) {
					t.Fatalf("op %d of board %d carried out before op %d, or with it: %q", later.ID, o.BoardNum, o.ID, describe(steps))
				}
				powerFollows = powerFollows || isPower(later.Kind)
			}
			if !isPower(o.Kind) && !powerFollows && i < lastPower {
				t.Fatalf("link op %d goes before a power packet: %q", o.ID, describe(steps))
			}
		}
	})
}
