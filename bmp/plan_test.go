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
	return service.BMPOp{ID: id, BMPID: 1, BoardNum: board, Kind: k, Link: link}
}

// linksOp builds a link op that switches several links of a board.
func linksOp(id int64, kind string, board int, links ...geometry.Link) service.BMPOp {
	op := testOp(id, kind, board, links[0])
	op.Links = links
	return op
}

// describe renders a plan as "kind boards [links] ops [sup]" per step, e.g.
// "on[10 11] ops[1 2]" or "links[3] off[east south] ops[4 5] sup[1]".
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
		if len(s.superseded) > 0 {
			fmt.Fprintf(&b, " sup%v", ids(s.superseded))
		}
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
			name: "link ops for a board are dropped when a power op for it follows",
			ops: []service.BMPOp{
				testOp(1, "on", 3, 0), testOp(2, "loff", 3, N), testOp(3, "loff", 4, S), testOp(4, "off", 3, 0),
			},
			want: []string{"off[3] ops[4] sup[1 2]", "links[4] off[south] ops[3]"},
		},
		{
			name: "last power op per board wins; a stale power-off is dropped",
			ops: []service.BMPOp{
				testOp(1, "off", 7, 0), testOp(2, "on", 8, 0), testOp(3, "on", 7, 0), testOp(4, "loff", 7, NE),
			},
			want: []string{"on[7 8] ops[2 3] sup[1]", "links[7] off[north_east] ops[4]"},
		},
		{
			name: "power-on again after links: first setup superseded by the reset",
			ops: []service.BMPOp{
				testOp(1, "on", 0, 0), testOp(2, "loff", 0, E), testOp(3, "on", 0, 0), testOp(4, "loff", 0, E),
			},
			want: []string{"on[0] ops[3] sup[1 2]", "links[0] off[east] ops[4]"},
		},
		{
			name: "dropping a superseded op lets the packets around it merge",
			ops:  []service.BMPOp{testOp(1, "on", 10, 0), testOp(2, "off", 11, 0), testOp(3, "off", 10, 0)},
			want: []string{"off[10 11] ops[2 3] sup[1]"},
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
			name: "an op with several links is superseded as a whole by a later power op",
			ops:  []service.BMPOp{linksOp(1, "loff", 4, E, N), testOp(2, "off", 4, 0)},
			want: []string{"off[4] ops[2] sup[1]"},
		},
		{
			name: "unknown kinds and bad links are set aside",
			ops: []service.BMPOp{testOp(1, "reboot", 2, 0), testOp(2, "loff", 2, 6), testOp(3, "loff", 2, -1), testOp(4, "on", 3, 0),
				linksOp(5, "loff", 2, E, 6)},
			want: []string{"on[3] ops[4]"},
			bad:  []int64{1, 2, 3, 5},
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
// carried out, superseded or set aside exactly once; that only the last
// power op of a board is sent; that link ops survive only when no power op
// for their board follows; and that every power packet goes before every
// link write.
func TestPlanOpsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 16).Draw(t, "n")
		var ops []service.BMPOp
		for i := range n {
			kind := rapid.SampledFrom([]string{"on", "off", "lon", "loff"}).Draw(t, "kind")
			board := rapid.IntRange(0, 4).Draw(t, "board")
			link := geometry.Link(rapid.IntRange(0, 5).Draw(t, "link"))
			op := testOp(int64(i+1), kind, board, link)
			if more := rapid.IntRange(0, 2).Draw(t, "more links"); more > 0 && !isPower(op.Kind) {
				op.Links = []geometry.Link{link}
				for range more {
					op.Links = append(op.Links, geometry.Link(rapid.IntRange(0, 5).Draw(t, "another link")))
				}
			}
			ops = append(ops, op)
		}
		steps, bad := planOps(ops)
		if len(bad) > 0 {
			t.Fatalf("valid ops set aside: %v", bad)
		}
		seen := map[int64]int{}
		sawLinks := false
		for _, s := range steps {
			for _, o := range s.allOps() {
				seen[o.ID]++
			}
			if s.kind == stepLinks {
				sawLinks = true
			} else if sawLinks {
				t.Fatalf("power packet after link writes: %q", describe(steps))
			}
			for _, o := range s.ops {
				for _, later := range ops {
					if later.ID > o.ID && later.BoardNum == o.BoardNum && isPower(later.Kind) {
						t.Fatalf("op %d sent although op %d is a later power op for board %d: %q", o.ID, later.ID, o.BoardNum, describe(steps))
					}
				}
			}
		}
		for _, o := range ops {
			if seen[o.ID] != 1 {
				t.Fatalf("op %d accounted for %d times: %q", o.ID, seen[o.ID], describe(steps))
			}
		}
	})
}
