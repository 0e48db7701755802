package fakebmp

import (
	"fmt"
	"slices"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
)

// ActionKind says what the fake does with one request.
type ActionKind int

// Action kinds.
const (
	ActOK     ActionKind = iota // process and answer normally
	ActDrop                     // neither process nor answer
	ActError                    // do not process; answer with a result code
	ActDelay                    // wait, then process and answer normally
	ActRaw                      // do not process; send bytes verbatim instead of a reply
	ActInject                   // send bytes verbatim, then process and answer normally
	ActReply                    // do not process; answer with a result code and payload
)

var actionNames = [...]string{"ok", "drop", "error", "delay", "raw", "inject", "reply"}

func (k ActionKind) String() string {
	if k >= 0 && int(k) < len(actionNames) {
		return actionNames[k]
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is one fault-injection step.
type Action struct {
	Kind  ActionKind
	RC    scp.Result    // for ActError and ActReply
	Delay time.Duration // for ActDelay
	Bytes []byte        // for ActRaw and ActInject; the payload for ActReply
}

// OK processes the request normally.
func OK() Action { return Action{Kind: ActOK} }

// Drop ignores the request: no effect, no reply.
func Drop() Action { return Action{Kind: ActDrop} }

// Error answers rc (with no payload) without processing the request.
func Error(rc scp.Result) Action { return Action{Kind: ActError, RC: rc} }

// Reply answers rc with payload (and the request's sequence number) without
// processing the request, e.g. an RC_OK reply of the wrong length.
func Reply(rc scp.Result, payload []byte) Action {
	return Action{Kind: ActReply, RC: rc, Bytes: slices.Clone(payload)}
}

// Delay waits d, then processes and answers normally. The fake handles one
// datagram at a time, so everything behind it waits too.
func Delay(d time.Duration) Action { return Action{Kind: ActDelay, Delay: d} }

// Raw sends b verbatim instead of processing the request (garbage, a
// truncated reply, a reply with a wrong sequence number...).
func Raw(b []byte) Action { return Action{Kind: ActRaw, Bytes: slices.Clone(b)} }

// Inject sends b verbatim and then processes and answers the request
// normally (e.g. a stray reply with an unknown sequence number first).
func Inject(b []byte) Action { return Action{Kind: ActInject, Bytes: slices.Clone(b)} }

// PowerMatch restricts a Rule on power requests to one direction.
type PowerMatch int

// Power directions a rule can match.
const (
	AnyPower PowerMatch = iota
	PowerOn
	PowerOff
)

// Rule applies Action to the next Count requests that match all of its
// non-empty fields. A power request matches Boards when its mask includes
// one of them; other requests when their destination board is listed.
type Rule struct {
	Cmds   []scp.Command // nil: any command
	Boards []int         // nil: any board
	FPGAs  []int         // nil: any FPGA (only FPGA reads/writes carry one)
	Power  PowerMatch    // for power requests
	Count  int           // requests to affect; 0 or less: every one
	Action Action

	used int
}

func (r *Rule) exhausted() bool { return r.Count > 0 && r.used >= r.Count }

func (r *Rule) matches(req scp.Request) bool {
	if r.Cmds != nil && !slices.Contains(r.Cmds, req.Cmd) {
		return false
	}
	switch req.Cmd {
	case scp.CmdPower, scp.CmdReset:
		if req.Cmd == scp.CmdPower && r.Power != AnyPower {
			on, _, _, err := scp.PowerArgs(req)
			if err != nil || on != (r.Power == PowerOn) {
				return false
			}
		}
		mask := req.Args[1] // the boards a power or reset request acts on
		if r.Boards != nil && !slices.ContainsFunc(r.Boards, func(b int) bool { return b >= 0 && b <= scp.MaxBoard && mask&(1<<b) != 0 }) {
			return false
		}
		return r.FPGAs == nil
	case scp.CmdFPGARead, scp.CmdFPGAWrite:
		if r.FPGAs != nil && !slices.Contains(r.FPGAs, int(req.Args[2])) {
			return false
		}
	default:
		if r.FPGAs != nil {
			return false
		}
	}
	return r.Boards == nil || slices.Contains(r.Boards, req.Board)
}

// Script appends actions to the FIFO; each received request consumes one
// (before rules are consulted) until it is empty.
func (s *Server) Script(actions ...Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, actions...)
}

// AddRule installs a rule; rules are tried in the order added, after the
// script, and the first one that matches and is not used up applies.
func (s *Server) AddRule(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.used = 0
	s.rules = append(s.rules, &r)
}

// SetUnreachable makes the fake drop every datagram (true) or answer again.
// Datagrams dropped this way are counted and logged but consume no
// scripted action and no rule.
func (s *Server) SetUnreachable(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreachable = v
}

// SetLatency adds d before every reply.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetDuplicate makes the fake send every reply twice.
func (s *Server) SetDuplicate(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicate = v
}

// SetFlag makes the FLAG register of fpga on board read value instead of
// the FPGA's id after each of the board's next powerOns power-ons; this is
// how a board whose FPGAs came up wrong looks to a client.
func (s *Server) SetFlag(board, fpga int, value uint32, powerOns int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[board]
	if b == nil {
		return fmt.Errorf("fakebmp: board %d is not in this frame", board)
	}
	if fpga < 0 || fpga >= scp.NumFPGAs {
		return fmt.Errorf("fakebmp: FPGA %d out of range 0..%d", fpga, scp.NumFPGAs-1)
	}
	b.flags[fpga] = flagOverride{value: value, count: powerOns}
	return nil
}

// ClearFaults empties the script and rules and resets the global switches.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script, s.rules = nil, nil
	s.unreachable, s.duplicate, s.latency = false, false, 0
	for _, b := range s.boards {
		b.flags = [scp.NumFPGAs]flagOverride{}
	}
}

// chooseAction picks the fault action for one request; mu must be held.
// decoded is false when the datagram is too short to be a request: such a
// datagram still consumes a scripted action but matches no rule.
func (s *Server) chooseAction(req scp.Request, decoded bool) Action {
	if len(s.script) > 0 {
		a := s.script[0]
		s.script = s.script[1:]
		return a
	}
	if !decoded {
		return OK()
	}
	for _, r := range s.rules {
		if !r.exhausted() && r.matches(req) {
			r.used++
			return r.Action
		}
	}
	return OK()
}
