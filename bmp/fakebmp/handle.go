package fakebmp

import (
	"encoding/binary"
	"net"
	"slices"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
)

// Exchange records one datagram the fake received and what it did.
type Exchange struct {
	At      time.Time   // arrival
	From    string      // sender address
	Raw     []byte      // the datagram as received
	Decoded bool        // Request is valid (datagram of 26..282 bytes)
	Request scp.Request // the decoded request
	Action  string      // "ok", "drop", "error", "delay", "raw", "inject", "reply", "unreachable", "bad-length"
	RC      scp.Result  // result code answered; 0 when nothing was answered
	Payload []byte      // payload of the answer
	Replies [][]byte    // every datagram sent back, in order
	Done    bool        // the fake has finished with the datagram
}

func (e *Exchange) clone() Exchange {
	c := *e
	c.Raw = slices.Clone(e.Raw)
	c.Request.Data = slices.Clone(e.Request.Data)
	c.Payload = slices.Clone(e.Payload)
	c.Replies = make([][]byte, len(e.Replies))
	for i, r := range e.Replies {
		c.Replies[i] = slices.Clone(r)
	}
	return c
}

// handle processes one datagram from start to finish; datagrams are handled
// one at a time, in arrival order, like the BMP's main loop.
func (s *Server) handle(b []byte, from *net.UDPAddr) {
	ex := &Exchange{At: time.Now(), From: from.String(), Raw: b}
	_, req, err := scp.DecodeRequest(b)
	ex.Decoded = err == nil
	ex.Request = req

	s.mu.Lock()
	s.received++
	if len(s.log) >= s.opts.LogLimit {
		s.log = slices.Delete(s.log, 0, len(s.log)-s.opts.LogLimit+1)
	}
	s.log = append(s.log, ex)
	if ex.Decoded {
		s.counts[req.Cmd]++
	}
	s.notify()
	// Firmware drops datagrams over 280 SDP bytes; the fake also drops
	// those too short to hold a header to answer.
	if len(b) < scp.HeaderLen || len(b) > scp.MaxDatagram {
		s.finish(ex, "bad-length")
		s.mu.Unlock()
		return
	}
	if s.unreachable {
		s.finish(ex, "unreachable")
		s.mu.Unlock()
		return
	}
	act := s.chooseAction(req, ex.Decoded)
	ex.Action = act.Kind.String()
	latency, dup := s.latency, s.duplicate
	s.mu.Unlock()

	h, _ := scp.DecodeHeader(b) // length checked above
	switch act.Kind {
	case ActDrop:
		s.complete(ex)
		return
	case ActRaw:
		s.send(ex, from, act.Bytes)
		s.complete(ex)
		return
	case ActInject:
		s.send(ex, from, act.Bytes)
	case ActDelay:
		if !s.sleep(act.Delay) {
			return
		}
	}

	var (
		rc      scp.Result
		payload []byte
		wait    time.Duration
	)
	switch act.Kind {
	case ActError:
		rc = act.RC
	case ActReply:
		rc, payload = act.RC, act.Bytes
	default:
		rc, payload, wait = s.execute(h, b)
	}
	if !h.ReplyWanted() {
		s.complete(ex)
		return
	}
	if !s.sleep(wait + latency) {
		return
	}
	reply := scp.EncodeReply(h, scp.SeqAt(b), rc, payload)
	s.mu.Lock()
	ex.RC, ex.Payload = rc, payload
	s.mu.Unlock()
	s.send(ex, from, reply)
	if dup {
		s.send(ex, from, reply)
	}
	s.complete(ex)
}

// finish marks ex handled with action; mu must be held.
func (s *Server) finish(ex *Exchange, action string) {
	ex.Action, ex.Done = action, true
	s.handled++
	s.notify()
}

// complete marks ex handled.
func (s *Server) complete(ex *Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex.Done = true
	s.handled++
	s.notify()
}

func (s *Server) send(ex *Exchange, to *net.UDPAddr, b []byte) {
	// A send error (e.g. the client went away) is the client's problem; the
	// datagram is still logged as what the fake tried to send.
	_, _ = s.conn.WriteToUDP(b, to)
	s.mu.Lock()
	ex.Replies = append(ex.Replies, slices.Clone(b))
	s.notify()
	s.mu.Unlock()
}

// execute validates a request in the firmware's order and applies it to the
// simulated frame. It returns the result code, the payload of the reply and
// how long to wait before replying.
func (s *Server) execute(h scp.Header, b []byte) (scp.Result, []byte, time.Duration) {
	if len(b) < scp.RequestHeaderLen {
		return scp.RCLen, nil, 0
	}
	if h.DstPort != 0 {
		return scp.RCPort, nil, 0
	}
	_, req, _ := scp.DecodeRequest(b) // length checked above
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notify() // state may change: wake Await callers (runs before the unlock)
	if s.boards[req.Board] == nil {
		return scp.RCRoute, nil, 0
	}
	switch req.Cmd {
	case scp.CmdVersion:
		v := s.version
		v.BoardID, v.CANID = uint8(req.Board), uint8(req.Board)
		return scp.RCOK, v.Payload(), 0
	case scp.CmdPower:
		return s.power(req)
	case scp.CmdFPGARead:
		return s.fpgaRead(req)
	case scp.CmdFPGAWrite:
		return s.fpgaWrite(req)
	case scp.CmdReset:
		if req.Args[0]&0xFB > 2 {
			return scp.RCArg, nil, 0
		}
		return scp.RCOK, nil, 0 // recorded in the log; chips are not simulated
	}
	return scp.RCCmd, nil, 0
}

// power switches every simulated board in the mask; mu must be held.
func (s *Server) power(req scp.Request) (scp.Result, []byte, time.Duration) {
	on, _, mask, err := scp.PowerArgs(req)
	if err != nil {
		return scp.RCArg, nil, 0
	}
	now := time.Now()
	for _, id := range scp.MaskBoards(mask) {
		b := s.boards[id]
		if b == nil {
			continue // like the real BMP: boards not in the frame are ignored
		}
		// Powering on a board that is on is a reset: FPGAs reload either way.
		clear(b.regs)
		b.on, b.changed = on, now
		if on {
			b.powerOns++
			s.loadFPGAs(b)
		}
	}
	if on {
		return scp.RCOK, nil, s.opts.PowerDelay
	}
	return scp.RCOK, nil, 0
}

// loadFPGAs sets the FLAG registers a freshly configured board shows.
func (s *Server) loadFPGAs(b *board) {
	for fpga := range scp.NumFPGAs {
		flag := uint32(fpga) | s.opts.FlagBits&^scp.FlagIDMask
		if o := &b.flags[fpga]; o.count > 0 {
			flag = o.value
			o.count--
		}
		b.regs[regKey{fpga, scp.FlagRegister}] = flag
	}
}

// fpgaArgs checks an FPGA request's length and FPGA number; RC_ARG if bad.
func fpgaArgs(req scp.Request) (fpga int, addr uint32, words int, ok bool) {
	n, f := req.Args[1], req.Args[2]
	if f >= scp.NumFPGAs || n == 0 || n > scp.MaxData || n%4 != 0 {
		return 0, 0, 0, false
	}
	return int(f), req.Args[0] &^ 3, int(n / 4), true
}

func (s *Server) fpgaRead(req scp.Request) (scp.Result, []byte, time.Duration) {
	fpga, addr, words, ok := fpgaArgs(req)
	if !ok {
		return scp.RCArg, nil, 0
	}
	b := s.boards[req.Board]
	if !b.on {
		s.offAccess++
	}
	out := make([]byte, 0, 4*words)
	for i := range words {
		var v uint32
		if b.on {
			v = b.regs[regKey{fpga, addr + uint32(4*i)}]
		}
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	return scp.RCOK, out, 0
}

func (s *Server) fpgaWrite(req scp.Request) (scp.Result, []byte, time.Duration) {
	fpga, addr, words, ok := fpgaArgs(req)
	if !ok || len(req.Data) < 4*words {
		return scp.RCArg, nil, 0
	}
	b := s.boards[req.Board]
	if !b.on {
		s.offAccess++
		return scp.RCOK, nil, s.opts.LinkDelay
	}
	for i := range words {
		b.regs[regKey{fpga, addr + uint32(4*i)}] = binary.LittleEndian.Uint32(req.Data[4*i:])
	}
	return scp.RCOK, nil, s.opts.LinkDelay
}
