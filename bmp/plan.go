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
// carried out by the step and shares its outcome. superseded ops were made
// pointless by an op of this step (a later power command for their board);
// nothing is sent for them, and they are reported with this step's outcome
// so that the service is never left waiting for them.
type step struct {
	kind       stepKind
	boards     []int           // board numbers, sorted (links: exactly one)
	links      []geometry.Link // stepLinks: the links written, in request order, no repeats
	enable     bool            // stepLinks: true = link_on (STOP 0), false = link_off (STOP 1)
	ops        []service.BMPOp // the ops carried out, in request order
	superseded []service.BMPOp // ops dropped because of this step, in request order
}

// allOps returns the ops whose outcome is this step's, in request order
// (dropped ones before the ops that replaced them).
func (s step) allOps() []service.BMPOp {
	return append(slices.Clone(s.superseded), s.ops...)
}

func isPower(k service.OpKind) bool { return k == service.OpPowerOn || k == service.OpPowerOff }

// planOps turns a BMP's claimed ops (in request order) into the steps to
// send, following spec §3 and BMP-02..04:
//
//   - per board the last power command wins: an earlier power command, and
//     any link command, for a board that has a later power command is
//     dropped (a power-on reloads the FPGAs, which resets every link, and a
//     power-off makes link writes moot) and reported with the later one;
//   - consecutive power commands of one direction become one packet with a
//     board mask; a change of direction starts a new packet, so packets keep
//     the order of the requests (a stale power-off never lands after a
//     newer power-on of the same board);
//   - link commands go after every power packet, grouped per board and
//     direction, keeping their order per board.
//
// Ops of unknown kinds, and link ops with a link out of range, are dropped from the plan and returned in bad, so
// that the caller can fail them instead of leaving them claimed.
func planOps(ops []service.BMPOp) (steps []step, bad []service.BMPOp) {
	lastPower := make(map[int]int) // board number -> index of its last power op
	for i, op := range ops {
		if isPower(op.Kind) {
			lastPower[op.BoardNum] = i
		}
	}
	// dropped[i] = index of the power op that supersedes op i.
	supersededBy := make(map[int]int)
	for i, op := range ops {
		if last, ok := lastPower[op.BoardNum]; ok && last > i {
			supersededBy[i] = last
		}
	}

	stepOf := make(map[int]int) // op index -> index in steps of the step carrying it
	var linkOps []int
	for i, op := range ops {
		if _, gone := supersededBy[i]; gone {
			continue
		}
		switch op.Kind {
		case service.OpPowerOn, service.OpPowerOff:
			kind := stepPowerOff
			if op.Kind == service.OpPowerOn {
				kind = stepPowerOn
			}
			if n := len(steps); n == 0 || steps[n-1].kind != kind {
				steps = append(steps, step{kind: kind})
			}
			s := &steps[len(steps)-1]
			s.ops = append(s.ops, op)
			if !slices.Contains(s.boards, op.BoardNum) {
				s.boards = append(s.boards, op.BoardNum)
			}
			stepOf[i] = len(steps) - 1
		case service.OpLinkOn, service.OpLinkOff:
			if !slices.ContainsFunc(opLinks(op), func(l geometry.Link) bool { return l < 0 || int(l) >= scp.NumLinks }) {
				linkOps = append(linkOps, i)
				continue
			}
			bad = append(bad, op)
		default:
			bad = append(bad, op)
		}
	}
	for i := range steps {
		slices.Sort(steps[i].boards)
	}
	steps = appendLinkSteps(steps, ops, linkOps)
	for i := range ops {
		if by, gone := supersededBy[i]; gone {
			s := &steps[stepOf[by]]
			s.superseded = append(s.superseded, ops[i])
		}
	}
	return steps, bad
}

// opLinks lists the links a link op switches: Links, or Link for an op
// that names one link only.
func opLinks(op service.BMPOp) []geometry.Link {
	if len(op.Links) > 0 {
		return op.Links
	}
	return []geometry.Link{op.Link}
}

// appendLinkSteps adds one step per run of link ops of a board in one
// direction. A board's ops join its latest group when the direction is the
// same, so the order per board is kept while boards are not interleaved.
func appendLinkSteps(steps []step, ops []service.BMPOp, linkOps []int) []step {
	latest := make(map[int]int) // board number -> index in steps of its latest link step
	for _, i := range linkOps {
		op := ops[i]
		enable := op.Kind == service.OpLinkOn
		j, ok := latest[op.BoardNum]
		if !ok || steps[j].enable != enable {
			steps = append(steps, step{kind: stepLinks, boards: []int{op.BoardNum}, enable: enable})
			j = len(steps) - 1
			latest[op.BoardNum] = j
		}
		s := &steps[j]
		s.ops = append(s.ops, op)
		for _, l := range opLinks(op) {
			if !slices.Contains(s.links, l) {
				s.links = append(s.links, l)
			}
		}
	}
	return steps
}
