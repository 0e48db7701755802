package bmp

import (
	"slices"

	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// stepKind is what one step of a plan sends to a BMP.
type stepKind int

const (
	stepPowerOn  stepKind = iota // one power-on packet (then the FPGA checks)
	stepPowerOff                 // one power-off packet
	stepLinks                    // STOP register writes on one board
)

func (k stepKind) String() string {
	switch k {
	case stepPowerOn:
		return "power_on"
	case stepPowerOff:
		return "power_off"
	default:
		return "links"
	}
}

// step is one unit of work for a BMP: a power packet for a set of boards,
// or the link writes of one board in one direction. Every op in ops is
// carried out by the step and shares its outcome.
type step struct {
	kind   stepKind
	boards []int           // board numbers, sorted (links: exactly one)
	links  []geometry.Link // stepLinks: the links written, in request order, no repeats
	enable bool            // stepLinks: true = link_on (STOP 0), false = link_off (STOP 1)
	ops    []service.BMPOp // the ops carried out, in request order
}

func isPower(k service.OpKind) bool { return k == service.OpPowerOn || k == service.OpPowerOff }

// planOps turns a BMP's claimed ops (in request order) into the steps to
// send (BMP-02..04; docs/bmp.md, "What the server sends"). Every op is carried out, and the ops of a
// board in the order they were requested. Which requests a newer one makes
// pointless is the service's rule, not the plan's: the service supersedes
// them before they are claimed, so a claim normally holds at most one
// power op per board, first among that board's ops.
//
//   - Consecutive power ops of one direction become one packet with a
//     board mask; a change of direction starts a new packet, so packets
//     keep the order of the requests.
//   - Link ops go after every power packet, grouped per board and
//     direction, keeping their order per board; a link op of a board with
//     a later power op in the claim goes before that power op instead.
//
// Ops of unknown kinds, and link ops without links or with a link out of
// range, are left out of the plan and returned in bad, so that the caller
// can fail them instead of leaving them claimed.
func planOps(ops []service.BMPOp) (steps []step, bad []service.BMPOp) {
	powers := make(map[int]int) // board number -> its power ops in the claim
	for _, op := range ops {
		if isPower(op.Kind) {
			powers[op.BoardNum]++
		}
	}
	rounds := 0 // power packets a board may need, one per round
	for _, n := range powers {
		rounds = max(rounds, n)
	}
	// Phase 2k+1 holds the k-th power op of each board, phase 2k the link
	// ops before it; phase 2*rounds the link ops no power op follows.
	phases := make([][]service.BMPOp, 2*rounds+1)
	seen := make(map[int]int) // board number -> power ops placed so far
	for _, op := range ops {
		b := op.BoardNum
		switch {
		case isPower(op.Kind):
			phases[2*seen[b]+1] = append(phases[2*seen[b]+1], op)
			seen[b]++
		case (op.Kind == service.OpLinkOn || op.Kind == service.OpLinkOff) && validLinks(op.Links):
			p := 2 * rounds
			if seen[b] < powers[b] {
				p = 2 * seen[b]
			}
			phases[p] = append(phases[p], op)
		default:
			bad = append(bad, op)
		}
	}
	for p, ops := range phases {
		if p%2 == 1 {
			steps = appendPowerSteps(steps, ops)
		} else {
			steps = appendLinkSteps(steps, ops)
		}
	}
	return steps, bad
}

func validLinks(links []geometry.Link) bool {
	return len(links) > 0 && !slices.ContainsFunc(links, func(l geometry.Link) bool { return l < 0 || int(l) >= scp.NumLinks })
}

// appendPowerSteps adds one packet per run of power ops of one direction
// (no board twice: ops holds at most one power op per board).
func appendPowerSteps(steps []step, ops []service.BMPOp) []step {
	first := len(steps)
	for _, op := range ops {
		kind := stepPowerOff
		if op.Kind == service.OpPowerOn {
			kind = stepPowerOn
		}
		if n := len(steps); n == first || steps[n-1].kind != kind {
			steps = append(steps, step{kind: kind})
		}
		s := &steps[len(steps)-1]
		s.ops = append(s.ops, op)
		s.boards = append(s.boards, op.BoardNum)
	}
	for i := first; i < len(steps); i++ {
		slices.Sort(steps[i].boards)
	}
	return steps
}

// appendLinkSteps adds one step per run of link ops of a board in one
// direction. A board's ops join its latest group when the direction is the
// same, so the order per board is kept while boards are not interleaved.
func appendLinkSteps(steps []step, ops []service.BMPOp) []step {
	latest := make(map[int]int) // board number -> index in steps of its latest link step
	for _, op := range ops {
		enable := op.Kind == service.OpLinkOn
		j, ok := latest[op.BoardNum]
		if !ok || steps[j].enable != enable {
			steps = append(steps, step{kind: stepLinks, boards: []int{op.BoardNum}, enable: enable})
			j = len(steps) - 1
			latest[op.BoardNum] = j
		}
		s := &steps[j]
		s.ops = append(s.ops, op)
		for _, l := range op.Links {
			if !slices.Contains(s.links, l) {
				s.links = append(s.links, l)
			}
		}
	}
	return steps
}
