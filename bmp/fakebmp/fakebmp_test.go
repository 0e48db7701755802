package fakebmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spalloc/spallocd/bmp/scp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// peer is a raw UDP socket talking to the fake, as a BMP client would.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
	s    *Server
}

func dial(t *testing.T, s *Server) *peer {
	t.Helper()
	addr, err := net.ResolveUDPAddr("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &peer{t: t, conn: conn, s: s}
}

func (p *peer) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads one datagram; the deadline only guards against a hung test.
func (p *peer) recv() []byte {
	p.t.Helper()
	buf := make([]byte, 1024)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := p.conn.Read(buf)
	if err != nil {
		p.t.Fatalf("no reply: %v", err)
	}
	return buf[:n]
}

// roundTrip sends a request and returns the decoded reply.
func (p *peer) roundTrip(req scp.Request) scp.Reply {
	p.t.Helper()
	b, err := req.Encode()
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(b)
	rep, err := scp.DecodeReply(p.recv())
	if err != nil {
		p.t.Fatal(err)
	}
	if rep.Seq != req.Seq {
		p.t.Fatalf("reply seq %d, want %d", rep.Seq, req.Seq)
	}
	return rep
}

// handled waits until the fake has finished with n datagrams in total.
func (p *peer) handled(n int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.s.Await(ctx, func() bool { return p.s.Handled() >= n }); err != nil {
		p.t.Fatal(err)
	}
}

func mustReq(t *testing.T) func(scp.Request, error) scp.Request {
	return func(r scp.Request, err error) scp.Request {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// The reference requests and their canonical replies (docs/bmp.md, "Test
// vectors") against the fake.
func TestCanonicalReplies(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	tests := []struct{ req, reply string }{
		{"00 00 87 FF 00 FF 00 00 00 00 39 00 07 00 01 00 00 00 07 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 07 00"},
		{"00 00 87 FF 00 FF 00 00 00 00 39 00 08 00 00 00 00 00 20 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 08 00"},
		// Power on board 3 first so its FPGAs take writes and show FLAG ids.
		{"00 00 87 FF 00 FF 00 00 00 00 39 00 01 00 01 00 00 00 08 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 01 00"},
		{"00 00 87 FF 03 FF 00 00 00 00 12 00 09 00 5C 00 00 00 04 00 00 00 02 00 00 00 01 00 00 00",
			"00 00 07 FF FF 03 00 00 00 00 80 00 09 00"},
		{"00 00 87 FF 03 FF 00 00 00 00 11 00 0A 00 04 00 04 00 04 00 00 00 01 00 00 00",
			"00 00 07 FF FF 03 00 00 00 00 80 00 0A 00 01 00 00 00"},
		{"00 00 87 FF 00 FF 00 00 00 00 00 00 0B 00 00 00 00 00 00 00 00 00 00 00 00 00",
			`00 00 07 FF FF 00 00 00 00 00 80 00 0B 00  00 00 00 00  00 01 FF FF  00 00 00 00
			42 43 26 4D 50 2F 53 70 69 6E 35 2D 42 4D 50 00  32 2E 31 2E 32 00`},
		{"00 00 87 FF 00 FF 00 00 00 00 12 00 0C 00 5C 00 01 00 04 00 00 00 00 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 0C 00"},
	}
	for _, tc := range tests {
		p.send(unhex(t, tc.req))
		if got, want := p.recv(), unhex(t, tc.reply); !bytes.Equal(got, want) {
			t.Errorf("request %s\n got % X\nwant % X", tc.req, got, want)
		}
	}
	if got := s.Register(3, 2, 0x5C); got != 1 {
		t.Errorf("north STOP of board 3 = %d, want 1", got)
	}
	if !s.Power(0) || !s.Power(1) || !s.Power(2) || !s.Power(3) || s.Power(5) {
		t.Errorf("power states wrong: %v %v %v %v %v", s.Power(0), s.Power(1), s.Power(2), s.Power(3), s.Power(5))
	}
}

// Validation in the firmware's order.
func TestValidation(t *testing.T) {
	s := start(t, Options{Boards: []int{0, 1, 2}})
	p := dial(t, s)
	power := mustReq(t)(scp.PowerRequest(true, []int{1}, 0))
	raw := func(r scp.Request) []byte {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withByte := func(b []byte, i int, v byte) []byte { b = slices.Clone(b); b[i] = v; return b }

	tests := []struct {
		name string
		b    []byte
		want scp.Result
	}{
		{"SDP length 23", raw(power)[:25], scp.RCLen},
		{"header only", raw(power)[:14], scp.RCLen},
		{"port 1", withByte(raw(power), 4, 1<<5), scp.RCPort},
		{"board 5 not in frame", raw(mustReq(t)(scp.VersionRequest(5))), scp.RCRoute},
		{"unknown command", raw(scp.Request{Cmd: 99}), scp.RCCmd},
		{"power state 2", raw(scp.Request{Cmd: scp.CmdPower, Args: [3]uint32{2, 1, 0}}), scp.RCArg},
		{"FPGA 3", raw(scp.Request{Cmd: scp.CmdFPGARead, Args: [3]uint32{0x5C, 4, 3}}), scp.RCArg},
		{"read 260 bytes", raw(scp.Request{Cmd: scp.CmdFPGARead, Args: [3]uint32{0x5C, 260, 0}}), scp.RCArg},
		{"write without data", raw(scp.Request{Cmd: scp.CmdFPGAWrite, Args: [3]uint32{0x5C, 4, 0}}), scp.RCArg},
		{"reset mode 3", raw(scp.Request{Cmd: scp.CmdReset, Args: [3]uint32{3, 1, 0}}), scp.RCArg},
		{"reset pulse with FPGAs", raw(scp.Request{Cmd: scp.CmdReset, Args: [3]uint32{6, 1, 0}}), scp.RCOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.b)
			rep, err := scp.DecodeReply(p.recv())
			if err != nil {
				t.Fatal(err)
			}
			if rep.RC != tc.want || len(rep.Payload) != 0 {
				t.Fatalf("got %v with %d payload bytes, want %v and none", rep.RC, len(rep.Payload), tc.want)
			}
		})
	}
	if s.Power(1) {
		t.Errorf("a rejected power command switched board 1 on")
	}
}

// Datagrams that get no answer: too short, too long, or no reply wanted.
func TestSilentDrops(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	on := mustReq(t)(scp.PowerRequest(true, []int{4}, 0))
	b, _ := on.Encode()
	noReply := slices.Clone(b)
	noReply[2] = scp.FlagsNoReply
	p.send(make([]byte, 9))
	p.send(make([]byte, scp.MaxDatagram+1))
	p.send(noReply)
	p.handled(3)
	for _, e := range s.Exchanges() {
		if len(e.Replies) != 0 {
			t.Errorf("datagram of %d bytes was answered", len(e.Raw))
		}
	}
	if !s.Power(4) {
		t.Errorf("a power-on without reply bit was not executed")
	}
	// The fake still answers afterwards.
	if rep := p.roundTrip(mustReq(t)(scp.VersionRequest(0))); rep.RC != scp.RCOK {
		t.Fatalf("sver after drops: %v", rep.RC)
	}
}

func TestPowerAndRegisters(t *testing.T) {
	s := start(t, Options{Boards: []int{0, 1, 2}, FlagBits: 0x3C})
	p := dial(t, s)
	p.roundTrip(mustReq(t)(scp.PowerRequest(true, []int{1, 2, 9}, 0))) // 9 is not in the frame: ignored
	if s.Power(0) || !s.Power(1) || !s.Power(2) || s.PowerOns(1) != 1 {
		t.Fatalf("after power on 1,2: %v %v %v, power-ons %d", s.Power(0), s.Power(1), s.Power(2), s.PowerOns(1))
	}
	for fpga := range 3 {
		rep := p.roundTrip(mustReq(t)(scp.FPGAReadRequest(1, fpga, scp.FlagRegister)))
		v, err := scp.ParseFPGARead(rep.Payload)
		if err != nil || v != uint32(fpga)|0x3C {
			t.Errorf("FLAG of FPGA %d = %#x, %v; want %#x", fpga, v, err, fpga|0x3C)
		}
	}
	p.roundTrip(mustReq(t)(scp.FPGAWriteRequest(1, 0, 0x1005C, 1)))
	if s.Register(1, 0, 0x1005C) != 1 {
		t.Fatalf("STOP write not stored")
	}
	// Powering on again is a reset: registers clear, FLAG reloads.
	p.roundTrip(mustReq(t)(scp.PowerRequest(true, []int{1}, 0)))
	if s.Register(1, 0, 0x1005C) != 0 || s.PowerOns(1) != 2 || s.Register(1, 2, scp.FlagRegister) != 2|0x3C {
		t.Fatalf("after re-power: STOP %d, power-ons %d, FLAG %#x", s.Register(1, 0, 0x1005C), s.PowerOns(1), s.Register(1, 2, scp.FlagRegister))
	}
	p.roundTrip(mustReq(t)(scp.PowerRequest(false, []int{1}, 0)))
	if s.Power(1) || s.OffBoardAccesses() != 0 {
		t.Fatalf("power off: on=%v, off-board accesses %d", s.Power(1), s.OffBoardAccesses())
	}
	// FPGA access to a board that is off: OK, value 0, counted.
	rep := p.roundTrip(mustReq(t)(scp.FPGAReadRequest(1, 0, scp.FlagRegister)))
	if v, _ := scp.ParseFPGARead(rep.Payload); rep.RC != scp.RCOK || v != 0 || s.OffBoardAccesses() != 1 {
		t.Fatalf("read of off board: %v %#x, count %d", rep.RC, v, s.OffBoardAccesses())
	}
	if s.Count(scp.CmdPower) != 3 || s.Count(scp.CmdFPGARead) != 4 || s.Count(scp.CmdFPGAWrite) != 1 {
		t.Errorf("counts: power %d read %d write %d", s.Count(scp.CmdPower), s.Count(scp.CmdFPGARead), s.Count(scp.CmdFPGAWrite))
	}
}

func TestVersionOption(t *testing.T) {
	s := start(t, Options{Version: "1.3.0", FrameID: 7, BuildDate: 1234})
	p := dial(t, s)
	rep := p.roundTrip(mustReq(t)(scp.VersionRequest(5)))
	v, err := scp.ParseVersion(rep.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != 1 || v.Minor != 3 || v.BoardID != 5 || v.CANID != 5 || v.FrameID != 7 || v.BuildDate != 1234 || v.BufferSize != 256 {
		t.Fatalf("got %+v", v)
	}
}

func TestSetFlag(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	if err := s.SetFlag(4, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{3, 3, 1} {
		p.roundTrip(mustReq(t)(scp.PowerRequest(true, []int{4}, 0)))
		if got := s.Register(4, 1, scp.FlagRegister); got != want {
			t.Errorf("power-on %d: FLAG = %d, want %d", i+1, got, want)
		}
	}
	if err := s.SetFlag(30, 0, 0, 1); err == nil {
		t.Errorf("SetFlag on a board outside the frame succeeded")
	}
	if err := s.SetFlag(0, 3, 0, 1); err == nil {
		t.Errorf("SetFlag on FPGA 3 succeeded")
	}
}

func TestScript(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	stray := scp.EncodeReply(scp.Header{}, 999, scp.RCOK, nil)
	s.Script(Drop(), Error(scp.RCArg), Raw([]byte("garbage")), Inject(stray), Reply(scp.RCOK, []byte{1, 2}), Delay(time.Millisecond), OK())
	sver := mustReq(t)(scp.VersionRequest(0))
	b, _ := sver.Encode()

	p.send(b) // dropped
	p.handled(1)
	if ex := s.Exchanges()[0]; ex.Action != "drop" || len(ex.Replies) != 0 {
		t.Fatalf("first: %+v", ex)
	}
	if rep := p.roundTrip(sver); rep.RC != scp.RCArg {
		t.Errorf("second: %v, want RC_ARG", rep.RC)
	}
	p.send(b)
	if got := p.recv(); string(got) != "garbage" {
		t.Errorf("third: % X", got)
	}
	p.send(b)
	if got := p.recv(); !bytes.Equal(got, stray) {
		t.Errorf("fourth, injected: % X", got)
	}
	if rep, _ := scp.DecodeReply(p.recv()); rep.RC != scp.RCOK {
		t.Errorf("fourth, real reply: %v", rep.RC)
	}
	if rep := p.roundTrip(sver); rep.RC != scp.RCOK || !bytes.Equal(rep.Payload, []byte{1, 2}) {
		t.Errorf("fifth, canned reply: %v % X", rep.RC, rep.Payload)
	}
	for range 3 { // delay, ok, then empty script: normal
		if rep := p.roundTrip(sver); rep.RC != scp.RCOK {
			t.Errorf("after script: %v", rep.RC)
		}
	}
	if s.Count(scp.CmdVersion) != 8 {
		t.Errorf("count %d, want 8", s.Count(scp.CmdVersion))
	}
}

func TestRules(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	s.AddRule(Rule{Cmds: []scp.Command{scp.CmdPower}, Power: PowerOn, Boards: []int{3}, Count: 1, Action: Error(scp.RCP2PBusy)})
	s.AddRule(Rule{Cmds: []scp.Command{scp.CmdFPGAWrite}, Boards: []int{3}, FPGAs: []int{2}, Count: 2, Action: Error(scp.RCP2PNoReply)})

	off := mustReq(t)(scp.PowerRequest(false, []int{3}, 0))
	onOther := mustReq(t)(scp.PowerRequest(true, []int{4}, 0))
	on := mustReq(t)(scp.PowerRequest(true, []int{2, 3}, 0))
	wr := func(fpga int) scp.Request { return mustReq(t)(scp.FPGAWriteRequest(3, fpga, 0x5C, 1)) }
	steps := []struct {
		name string
		req  scp.Request
		want scp.Result
	}{
		{"power off is not power on", off, scp.RCOK},
		{"other board", onOther, scp.RCOK},
		{"power on with board 3 in the mask", on, scp.RCP2PBusy},
		{"count used up", on, scp.RCOK},
		{"write FPGA 0 unaffected", wr(0), scp.RCOK},
		{"write FPGA 2 first", wr(2), scp.RCP2PNoReply},
		{"write FPGA 2 second", wr(2), scp.RCP2PNoReply},
		{"write FPGA 2 third", wr(2), scp.RCOK},
	}
	for _, st := range steps {
		if rep := p.roundTrip(st.req); rep.RC != st.want {
			t.Errorf("%s: %v, want %v", st.name, rep.RC, st.want)
		}
	}
	// A rule with Count 0 applies to every match until cleared.
	s.AddRule(Rule{Cmds: []scp.Command{scp.CmdVersion}, Action: Error(scp.RCTimeout)})
	for range 3 {
		if rep := p.roundTrip(mustReq(t)(scp.VersionRequest(1))); rep.RC != scp.RCTimeout {
			t.Errorf("forever rule: %v", rep.RC)
		}
	}
	s.ClearFaults()
	if rep := p.roundTrip(mustReq(t)(scp.VersionRequest(1))); rep.RC != scp.RCOK {
		t.Errorf("after ClearFaults: %v", rep.RC)
	}
}

func TestSwitches(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	sver := mustReq(t)(scp.VersionRequest(0))
	b, _ := sver.Encode()

	s.SetUnreachable(true)
	p.send(b)
	p.handled(1)
	if ex := s.Exchanges()[0]; ex.Action != "unreachable" || len(ex.Replies) != 0 || s.Count(scp.CmdVersion) != 1 {
		t.Fatalf("unreachable: %+v", ex)
	}
	s.SetUnreachable(false)

	s.SetDuplicate(true)
	first := p.roundTrip(sver)
	second, err := scp.DecodeReply(p.recv())
	if err != nil || second.Seq != first.Seq || second.RC != scp.RCOK {
		t.Fatalf("duplicate: %+v %v", second, err)
	}
	s.SetDuplicate(false)

	s.SetLatency(time.Millisecond)
	if rep := p.roundTrip(sver); rep.RC != scp.RCOK {
		t.Fatalf("latency: %v", rep.RC)
	}
}

// A slow power-on holds up everything behind it, and Close cuts it short.
func TestDelaysAndClose(t *testing.T) {
	s, err := New(Options{PowerDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	p := dial(t, s)
	on, _ := mustReq(t)(scp.PowerRequest(true, []int{0}, 0)).Encode()
	p.send(on)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Await(ctx, func() bool { return s.Power(0) }); err != nil {
		t.Fatal(err) // state changes before the delayed reply
	}
	if s.Handled() != 0 {
		t.Fatalf("power-on answered before its delay")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Version: "two"}, "Version"},
		{Options{Boards: []int{0, 32}}, "board 32"},
		{Options{Boards: []int{1, 1}}, "twice"},
		{Options{Boards: []int{}}, "no boards"},
		{Options{PowerDelay: -1}, "negative"},
		{Options{LogLimit: -1}, "LogLimit"},
	}
	for _, tc := range tests {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) err = %v, want %q", tc.opts, err, tc.want)
		}
	}
	s, _ := New(Options{Listen: "127.0.0.1:notaport"})
	if err := s.Start(); err == nil {
		t.Errorf("Start on a bad address succeeded")
	}
	s.Close()
}

func TestParseBoards(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"0-2", []int{0, 1, 2}, ""},
		{"5, 0-1,1", []int{0, 1, 5}, ""},
		{"7", []int{7}, ""},
		{"0-32", nil, "outside"},
		{"3-1", nil, "reversed"},
		{"a", nil, "not a board"},
		{"1-b", nil, "not a board"},
		{"", nil, "not a board"},
	}
	for _, tc := range tests {
		got, err := ParseBoards(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBoards(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseBoards(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// The log records decoded requests and what went back.
func TestExchangeLog(t *testing.T) {
	s := start(t, Options{})
	p := dial(t, s)
	p.roundTrip(mustReq(t)(scp.PowerRequest(true, []int{0, 1}, 0)))
	// The reply may reach us before the fake marks the exchange done.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Await(ctx, func() bool { return s.Handled() == 1 }); err != nil {
		t.Fatal(err)
	}
	ex := s.Exchanges()
	if len(ex) != 1 {
		t.Fatalf("%d exchanges", len(ex))
	}
	e := ex[0]
	if !e.Decoded || e.Request.Cmd != scp.CmdPower || e.Request.Args[1] != 3 || e.RC != scp.RCOK || len(e.Replies) != 1 || !e.Done || e.Action != "ok" {
		t.Fatalf("exchange %+v", e)
	}
	if got := s.Requests(scp.CmdPower); len(got) != 1 || binary.LittleEndian.Uint16(e.Raw[12:]) != got[0].Seq {
		t.Fatalf("Requests = %+v", got)
	}
}

func TestLogLimit(t *testing.T) {
	s := start(t, Options{LogLimit: 2})
	p := dial(t, s)
	for board := range 3 {
		p.roundTrip(mustReq(t)(scp.VersionRequest(board)))
	}
	ex := s.Exchanges()
	if len(ex) != 2 || ex[0].Request.Board != 1 || ex[1].Request.Board != 2 {
		t.Fatalf("kept %d exchanges: %+v", len(ex), ex)
	}
	if s.Received() != 3 || s.Count(scp.CmdVersion) != 3 {
		t.Errorf("received %d, count %d; want 3", s.Received(), s.Count(scp.CmdVersion))
	}
	p.handled(3)
}

// A frame of which only far boards are configured still has the BMP on
// board 0, which takes the frame's power commands; boards added later are
// served too, and those already there keep their state.
func TestBoardZeroCarriesTheBMP(t *testing.T) {
	s := start(t, Options{Boards: []int{23}})
	p := dial(t, s)
	req := mustReq(t)
	if rep := p.roundTrip(req(scp.PowerRequest(true, []int{23}, 0))); rep.RC != scp.RCOK {
		t.Fatalf("power on board 23 (sent to board 0): %v", rep.RC)
	}
	if !s.Power(23) || s.Power(0) {
		t.Fatalf("power: board 23 %v, board 0 %v; want on, off", s.Power(23), s.Power(0))
	}
	if rep := p.roundTrip(req(scp.VersionRequest(5))); rep.RC != scp.RCRoute {
		t.Fatalf("sver to board 5, not in the frame: %v, want RC_ROUTE", rep.RC)
	}

	if err := s.AddBoards([]int{5, 23}); err != nil {
		t.Fatal(err)
	}
	if rep := p.roundTrip(req(scp.VersionRequest(5))); rep.RC != scp.RCOK {
		t.Fatalf("sver to board 5 after AddBoards: %v", rep.RC)
	}
	if !s.Power(23) || s.PowerOns(23) != 1 {
		t.Fatalf("board 23 lost its state: on %v, power-ons %d", s.Power(23), s.PowerOns(23))
	}
	if err := s.AddBoards([]int{32}); err == nil || !strings.Contains(err.Error(), "board 32") {
		t.Fatalf("AddBoards(32): %v", err)
	}
}
