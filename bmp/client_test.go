package bmp_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three sets of policies. fast is only for requests that must time out
// (the fake drops them): a slow machine cannot change their outcome.
// patient is for requests that must succeed, so that load cannot turn them
// into time-outs; they never wait for the time-out. resending has short
// time-outs and many retries, for requests that must be resent and then
// succeed: how many resends happen depends on the machine's speed, so tests
// using it assert lower bounds.
var (
	fast = bmp.Options{
		Default:    bmp.Policy{Timeout: 30 * time.Millisecond, Retries: 3},
		PowerOn:    bmp.Policy{Timeout: 30 * time.Millisecond, Retries: 0},
		PowerOff:   bmp.Policy{Timeout: 30 * time.Millisecond, Retries: 0},
		RetryDelay: time.Millisecond,
	}
	patient = bmp.Options{
		Default:    bmp.Policy{Timeout: 10 * time.Second, Retries: 3},
		PowerOn:    bmp.Policy{Timeout: 10 * time.Second, Retries: 0},
		PowerOff:   bmp.Policy{Timeout: 10 * time.Second, Retries: 0},
		RetryDelay: time.Millisecond,
	}
	resending = bmp.Options{
		Default:    bmp.Policy{Timeout: 50 * time.Millisecond, Retries: 20},
		PowerOn:    patient.PowerOn,
		PowerOff:   patient.PowerOff,
		RetryDelay: time.Millisecond,
	}
	// defaults are the options of the default [bmp] settings.
	defaults = bmp.OptionsFrom(config.Default().BMP)
)

// with returns o changed by f.
func with(o bmp.Options, f func(*bmp.Options)) bmp.Options {
	f(&o)
	return o
}

func startFake(t *testing.T, opts fakebmp.Options) *fakebmp.Server {
	t.Helper()
	s, err := fakebmp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, addr string, opts bmp.Options) *bmp.Client {
	t.Helper()
	c, err := bmp.Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// setup starts a fake frame and a client for it.
func setup(t *testing.T, fo fakebmp.Options, co bmp.Options) (*fakebmp.Server, *bmp.Client) {
	t.Helper()
	s := startFake(t, fo)
	return s, dial(t, s.Addr(), co)
}

// settle waits until the fake has handled everything sent to it so far, by
// sending one more request from a second client and waiting for its reply:
// the fake handles datagrams in order. Counts are then final.
func settle(t *testing.T, s *fakebmp.Server) {
	t.Helper()
	c := dial(t, s.Addr(), patient)
	// The probe goes to a board outside any rule the tests set (board 23).
	if _, err := c.Version(context.Background(), 23); err != nil {
		t.Fatalf("settle probe: %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHappyPath(t *testing.T) {
	s, c := setup(t, fakebmp.Options{}, patient)
	ctx := ctxT(t)

	v, err := c.Version(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "BC&MP" || v.Hardware != "Spin5-BMP" || v.Version() != "2.1.2" || v.BoardID != 4 {
		t.Errorf("version %+v", v)
	}
	if err := c.Power(ctx, true, []int{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if !s.Power(0) || !s.Power(1) || !s.Power(2) || s.Power(3) {
		t.Fatalf("boards 0..2 should be on, 3 off")
	}
	flag, err := c.ReadFPGA(ctx, 2, 1, scp.FlagRegister)
	if err != nil || flag != 1 {
		t.Fatalf("FLAG of FPGA 1 on board 2 = %d, %v", flag, err)
	}
	if err := c.WriteFPGA(ctx, 2, 0, 0x5C, 1); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadFPGA(ctx, 2, 0, 0x5C); err != nil || got != 1 || s.Register(2, 0, 0x5C) != 1 {
		t.Fatalf("read back %d, %v; fake holds %d", got, err, s.Register(2, 0, 0x5C))
	}
	if err := c.Power(ctx, false, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if !s.Power(0) || s.Power(1) || s.Power(2) {
		t.Fatalf("boards 1, 2 should be off")
	}
	power := s.Requests(scp.CmdPower)
	if len(power) != 2 || power[0].Board != 0 || power[0].Args[1] != 7 || power[1].Args[1] != 6 {
		t.Fatalf("power packets %+v", power)
	}
	if st := c.Stats(); st.Resent != 0 || st.Ignored != 0 || st.Sent != st.Replies || st.Sent != 6 {
		t.Errorf("stats %+v", st)
	}
	if s.OffBoardAccesses() != 0 {
		t.Errorf("FPGA access to a board that was off")
	}
}

// BMP-01 through geometry's link names: each link's STOP register.
func TestSetLink(t *testing.T) {
	s, c := setup(t, fakebmp.Options{}, patient)
	ctx := ctxT(t)
	if err := c.Power(ctx, true, []int{5}); err != nil {
		t.Fatal(err)
	}
	want := map[geometry.Link]struct {
		fpga int
		addr uint32
	}{
		geometry.East: {0, 0x5C}, geometry.South: {0, 0x1005C},
		geometry.SouthWest: {1, 0x5C}, geometry.West: {1, 0x1005C},
		geometry.North: {2, 0x5C}, geometry.NorthEast: {2, 0x1005C},
	}
	for l, w := range want {
		if err := c.SetLink(ctx, 5, l, false); err != nil {
			t.Fatal(err)
		}
		if got := s.Register(5, w.fpga, w.addr); got != 1 {
			t.Errorf("%v disabled: FPGA %d register %#x = %d, want 1", l, w.fpga, w.addr, got)
		}
	}
	if err := c.SetLinks(ctx, 5, []geometry.Link{geometry.North, geometry.East}, true); err != nil {
		t.Fatal(err)
	}
	if s.Register(5, 2, 0x5C) != 0 || s.Register(5, 0, 0x5C) != 0 || s.Register(5, 1, 0x5C) != 1 {
		t.Errorf("enable north/east: registers %d %d, south_west still %d", s.Register(5, 2, 0x5C), s.Register(5, 0, 0x5C), s.Register(5, 1, 0x5C))
	}
	// One sver per call, one write per link.
	if s.Count(scp.CmdVersion) != 7 || s.Count(scp.CmdFPGAWrite) != 8 {
		t.Errorf("sver %d, writes %d", s.Count(scp.CmdVersion), s.Count(scp.CmdFPGAWrite))
	}
	if err := c.SetLink(ctx, 5, geometry.Link(6), false); err == nil || !strings.Contains(err.Error(), "link 6") {
		t.Errorf("link 6: %v", err)
	}
}

func TestDialAddresses(t *testing.T) {
	c := dial(t, "127.0.0.1", defaults)
	if c.Addr() != "127.0.0.1:17893" {
		t.Errorf("default port: %s", c.Addr())
	}
	for _, bad := range []string{"", "127.0.0.1:0", "127.0.0.1:x", "127.0.0.1:70000", ":17893"} {
		if c, err := bmp.Dial(context.Background(), bad, defaults); err == nil {
			c.Close()
			t.Errorf("Dial(%q) succeeded", bad)
		}
	}
	for _, o := range []bmp.Options{
		with(defaults, func(o *bmp.Options) { o.Default.Retries = -1 }),
		with(defaults, func(o *bmp.Options) { o.PowerOn.Timeout = -time.Second }),
		with(defaults, func(o *bmp.Options) { o.PowerOff.Timeout = 0 }), // no default: the settings give it
		with(defaults, func(o *bmp.Options) { o.MaxInFlight = -1 }),
		with(defaults, func(o *bmp.Options) { o.RetryDelay = -1 }),
	} {
		if c, err := bmp.Dial(context.Background(), "127.0.0.1", o); err == nil {
			c.Close()
			t.Errorf("Dial with %+v succeeded", o)
		}
	}
}

func TestTimeoutsAndRetries(t *testing.T) {
	tests := []struct {
		name     string
		op       func(ctx context.Context, c *bmp.Client) error
		cmd      scp.Command
		attempts int
	}{
		{"sver: 1 + 3 retries", func(ctx context.Context, c *bmp.Client) error { _, err := c.Version(ctx, 0); return err }, scp.CmdVersion, 4},
		{"FPGA write: 1 + 3 retries", func(ctx context.Context, c *bmp.Client) error { return c.WriteFPGA(ctx, 0, 0, 0x5C, 1) }, scp.CmdFPGAWrite, 4},
		{"power on: no retry", func(ctx context.Context, c *bmp.Client) error { return c.Power(ctx, true, []int{0}) }, scp.CmdPower, 1},
		{"power off: no retry", func(ctx context.Context, c *bmp.Client) error { return c.Power(ctx, false, []int{0}) }, scp.CmdPower, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := setup(t, fakebmp.Options{}, fast)
			s.AddRule(fakebmp.Rule{Cmds: []scp.Command{tc.cmd}, Boards: []int{0}, Action: fakebmp.Drop()})
			err := tc.op(ctxT(t), c)
			var te *bmp.TimeoutError
			if !errors.As(err, &te) || te.Attempts != tc.attempts {
				t.Fatalf("err = %v, want a timeout after %d attempts", err, tc.attempts)
			}
			if !strings.Contains(err.Error(), "no reply after") || !te.Timeout() {
				t.Errorf("message %q", err)
			}
			settle(t, s)
			// Every retransmission is the identical datagram.
			var raws [][]byte
			for _, e := range s.Exchanges() {
				if e.Decoded && e.Request.Cmd == tc.cmd && e.Request.Board == 0 {
					raws = append(raws, e.Raw)
				}
			}
			if len(raws) != tc.attempts {
				t.Fatalf("fake received %d, want %d", len(raws), tc.attempts)
			}
			for _, r := range raws[1:] {
				if !slices.Equal(r, raws[0]) {
					t.Errorf("retransmission differs: % X vs % X", r, raws[0])
				}
			}
		})
	}
}

// Drop the first 2, then OK: success after resending the identical
// datagram (3 sends when the third is answered in time).
func TestRetryThenSuccess(t *testing.T) {
	s, c := setup(t, fakebmp.Options{}, resending)
	s.Script(fakebmp.Drop(), fakebmp.Drop())
	if _, err := c.Version(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Sent < 3 || st.Resent != st.Sent-1 || st.Replies != 1 {
		t.Errorf("stats %+v", st)
	}
	settle(t, s)
	var raws [][]byte
	for _, e := range s.Exchanges() {
		if e.Request.Board == 0 {
			raws = append(raws, e.Raw)
		}
	}
	for _, r := range raws[1:] {
		if !slices.Equal(r, raws[0]) {
			t.Errorf("retransmission differs: % X vs % X", r, raws[0])
		}
	}
}

func TestResultCodes(t *testing.T) {
	tests := []struct {
		name     string
		script   []fakebmp.Action
		wantErr  scp.Result // 0: success
		attempts int        // datagrams the client sends
	}{
		{"RC_ARG fails at once", []fakebmp.Action{fakebmp.Error(scp.RCArg)}, scp.RCArg, 1},
		{"RC_CMD fails at once", []fakebmp.Action{fakebmp.Error(scp.RCCmd)}, scp.RCCmd, 1},
		{"RC_SUM is not retried", []fakebmp.Action{fakebmp.Error(scp.RCSum)}, scp.RCSum, 1},
		{"RC_P2P_NOREPLY once is retried", []fakebmp.Action{fakebmp.Error(scp.RCP2PNoReply)}, 0, 2},
		{"RC_P2P_BUSY twice is retried", []fakebmp.Action{fakebmp.Error(scp.RCP2PBusy), fakebmp.Error(scp.RCP2PBusy)}, 0, 3},
		{"RC_TIMEOUT until retries run out", []fakebmp.Action{
			fakebmp.Error(scp.RCTimeout), fakebmp.Error(scp.RCTimeout), fakebmp.Error(scp.RCTimeout), fakebmp.Error(scp.RCTimeout),
		}, scp.RCTimeout, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := setup(t, fakebmp.Options{}, patient)
			s.Script(tc.script...)
			err := c.WriteFPGA(ctxT(t), 3, 2, 0x5C, 1)
			if tc.wantErr == 0 && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != 0 {
				var re *bmp.ResultError
				if !errors.As(err, &re) || re.Code != tc.wantErr || re.Board != 3 {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr.String()) {
					t.Errorf("message %q lacks the code's name", err)
				}
			}
			if got := c.Stats().Sent; got != uint64(tc.attempts) {
				t.Errorf("sent %d, want %d", got, tc.attempts)
			}
		})
	}
}

// A reply that carries the request's sequence number but cannot be the
// BMP's answer (an RC_OK reply too short for its command, a result code no
// BMP sends) was damaged on the way: it is ignored like a lost one, and the
// resend gets the answer. If every reply is unreadable the operation times
// out, counting them: a fault of the link, not an answer about the board.
func TestUnreadableRepliesCountAsNoReply(t *testing.T) {
	read := func(ctx context.Context, c *bmp.Client) error {
		_, err := c.ReadFPGA(ctx, 0, 0, scp.FlagRegister)
		return err
	}
	sver := func(ctx context.Context, c *bmp.Client) error { _, err := c.Version(ctx, 0); return err }
	write := func(ctx context.Context, c *bmp.Client) error { return c.WriteFPGA(ctx, 0, 0, 0x5C, 1) }
	tests := []struct {
		name   string
		op     func(context.Context, *bmp.Client) error
		cmd    scp.Command
		reply  fakebmp.Action
		reason string
	}{
		{"FPGA read with 2 payload bytes", read, scp.CmdFPGARead, fakebmp.Reply(scp.RCOK, []byte{1, 2}), "2 payload bytes"},
		{"sver without a version", sver, scp.CmdVersion, fakebmp.Reply(scp.RCOK, []byte("short")), "sver reply"},
		{"a result code no BMP sends", write, scp.CmdFPGAWrite, fakebmp.Error(0x90), "unknown result code 0x0090"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := newIgnoredLog()
			opts := resending
			opts.OnIgnored = log.hook
			s, c := setup(t, fakebmp.Options{}, opts)
			s.Script(tc.reply)
			if err := tc.op(ctxT(t), c); err != nil {
				t.Fatalf("after one unreadable reply: %v", err)
			}
			if r := log.wait(t, 1); !strings.Contains(r[0], "unreadable reply") || !strings.Contains(r[0], tc.reason) {
				t.Errorf("reason %q", r[0])
			}
			if st := c.Stats(); st.Resent < 1 || st.Replies != 1 {
				t.Errorf("stats %+v, want a resend and one reply taken", st)
			}

			opts = fast
			c = dial(t, s.Addr(), opts)
			s.AddRule(fakebmp.Rule{Cmds: []scp.Command{tc.cmd}, Action: tc.reply})
			err := tc.op(ctxT(t), c)
			var te *bmp.TimeoutError
			if !errors.As(err, &te) || te.Attempts != 4 || te.Damaged != 4 {
				t.Fatalf("every reply unreadable: %v, want a time-out after 4 attempts with 4 unreadable replies", err)
			}
			if !strings.Contains(err.Error(), "4 unreadable replies ignored") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// ignoredLog collects what the client ignores, for tests to wait on.
type ignoredLog struct {
	mu      sync.Mutex
	reasons []string
	ch      chan struct{}
}

func newIgnoredLog() *ignoredLog { return &ignoredLog{ch: make(chan struct{}, 100)} }

func (l *ignoredLog) hook(_ []byte, reason string) {
	l.mu.Lock()
	l.reasons = append(l.reasons, reason)
	l.mu.Unlock()
	l.ch <- struct{}{}
}

func (l *ignoredLog) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-l.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("fewer than %d datagrams ignored", n)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reasons)
}

// Every reply arrives twice: the second copy is ignored and never confused
// with a later request's reply.
func TestDuplicateRepliesIgnored(t *testing.T) {
	log := newIgnoredLog()
	opts := patient
	opts.OnIgnored = log.hook
	s, c := setup(t, fakebmp.Options{}, opts)
	s.SetDuplicate(true)
	ctx := ctxT(t)
	if err := c.Power(ctx, true, []int{1}); err != nil {
		t.Fatal(err)
	}
	reasons := log.wait(t, 1)
	if !strings.Contains(reasons[0], "sequence") {
		t.Errorf("reason %q", reasons[0])
	}
	for fpga := range 3 {
		if v, err := c.ReadFPGA(ctx, 1, fpga, scp.FlagRegister); err != nil || v != uint32(fpga) {
			t.Fatalf("FLAG %d = %d, %v", fpga, v, err)
		}
	}
	log.wait(t, 3)
	if st := c.Stats(); st.Ignored != 4 || st.Replies != 4 || st.Resent != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A reply that comes after the client has resent: accepted; the answer to
// the resend arrives late and is ignored.
func TestLateReplyAfterResend(t *testing.T) {
	log := newIgnoredLog()
	opts := resending
	opts.OnIgnored = log.hook
	s, c := setup(t, fakebmp.Options{}, opts)
	s.Script(fakebmp.Delay(2 * resending.Default.Timeout)) // the fake is serial: the resend waits too
	v, err := c.Version(ctxT(t), 0)
	if err != nil || v.Major != 2 {
		t.Fatalf("%+v, %v", v, err)
	}
	reasons := log.wait(t, 1)
	if !strings.Contains(reasons[0], "no request outstanding") && !strings.Contains(reasons[0], "duplicate") {
		t.Errorf("reason %q", reasons[0])
	}
	if c.Stats().Resent < 1 {
		t.Errorf("no resend: %+v", c.Stats())
	}
}

// Stray datagrams before the real reply: an unknown sequence number (even
// with an error code), garbage. Neither disturbs the request.
func TestUnknownSequenceIgnored(t *testing.T) {
	log := newIgnoredLog()
	opts := patient
	opts.OnIgnored = log.hook
	s, c := setup(t, fakebmp.Options{}, opts)
	s.Script(fakebmp.Inject(scp.EncodeReply(scp.Header{}, 4242, scp.RCArg, nil)))
	if err := c.Power(ctxT(t), true, []int{0}); err != nil {
		t.Fatal(err)
	}
	if r := log.wait(t, 1); !strings.Contains(r[0], "no request outstanding with sequence 4242") {
		t.Errorf("reason %q", r[0])
	}
	if st := c.Stats(); st.Sent != 1 || st.Ignored != 1 {
		t.Errorf("stats %+v", st)
	}

	// Garbage instead of a reply: ignored; a resend gets the answer.
	log = newIgnoredLog()
	opts = resending
	opts.OnIgnored = log.hook
	c = dial(t, s.Addr(), opts)
	s.Script(fakebmp.Raw([]byte{1, 2, 3}))
	if _, err := c.Version(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}
	if r := log.wait(t, 1); !strings.Contains(r[0], "too short") {
		t.Errorf("reason %q", r[0])
	}
	if st := c.Stats(); st.Resent < 1 {
		t.Errorf("stats %+v", st)
	}
}

// Nothing listens: the kernel's "connection refused" must not break the
// reader; the operation times out like any other.
func TestNobodyListening(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := dial(t, addr, fast)
	var te *bmp.TimeoutError
	if _, err := c.Version(ctxT(t), 0); !errors.As(err, &te) || te.Attempts != 4 {
		t.Fatalf("err = %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	s, c := setup(t, fakebmp.Options{PowerDelay: time.Hour}, with(patient, func(o *bmp.Options) { o.PowerOn.Timeout = time.Hour }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Power(ctx, true, []int{0}) }()
	if err := s.Await(ctxT(t), func() bool { return s.Count(scp.CmdPower) == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Power did not return after cancel")
	}
	// An already cancelled context sends nothing.
	if _, err := c.Version(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := c.Stats().Sent; got != 1 {
		t.Errorf("sent %d, want 1", got)
	}
}

// Close fails the operation in progress and later ones with ErrClosed and
// ends the reader goroutine (TestMain checks for leaks).
func TestClose(t *testing.T) {
	s := startFake(t, fakebmp.Options{PowerDelay: time.Hour})
	c, err := bmp.Dial(context.Background(), s.Addr(), with(patient, func(o *bmp.Options) { o.PowerOn.Timeout = time.Hour }))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Power(context.Background(), true, []int{0}) }()
	if err := s.Await(ctxT(t), func() bool { return s.Count(scp.CmdPower) == 1 }); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, bmp.ErrClosed) {
		t.Fatalf("in-flight op: %v", err)
	}
	if _, err := c.Version(context.Background(), 0); !errors.Is(err, bmp.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Many goroutines share one client; each gets its own answer.
func TestConcurrentRequests(t *testing.T) {
	for _, inFlight := range []int{1, 8} {
		opts := patient
		opts.MaxInFlight = inFlight
		_, c := setup(t, fakebmp.Options{}, opts)
		var wg sync.WaitGroup
		errs := make(chan error, 48)
		for i := range 48 {
			wg.Go(func() {
				board := i % 24
				v, err := c.Version(context.Background(), board)
				if err == nil && int(v.BoardID) != board {
					err = errors.New("reply for another board")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("in flight %d: %v", inFlight, err)
			}
		}
		if st := c.Stats(); st.Replies != 48 || st.Ignored != 0 || st.Resent != 0 {
			t.Errorf("in flight %d: stats %+v", inFlight, st)
		}
	}
}
