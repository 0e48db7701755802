package bmp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// These tests drive workers over real UDP against in-process fake BMPs,
// with memBackend standing in for the service's op table (the service's
// own tests, and manager_test.go, cover the real thing).

// memBackend keeps ops like the service does: open ops in request order,
// claims that hold back later ops of a board with a claimed op, outcomes.
type memBackend struct {
	mu       sync.Mutex
	bmps     []service.BMPEndpoint
	nextID   int64
	open     []service.BMPOp // unclaimed, request order
	claimed  map[int64]service.BMPOp
	outcomes map[int64]error
	bmpDown  map[int64]bool // ops reported with BMPDown
	reach    []reachCall    // SetBMPReachable calls, in order
	released []int64        // ops given back by ReleaseBMPOps, in order
	claims   int            // ClaimBMPOps calls that returned ops
	stuck    bool           // outcomes and releases wait for their context to end (a stuck database)
	waited   int            // calls that waited so
	changed  chan struct{}
	feeds    []*memFeed
}

func newMemBackend() *memBackend {
	return &memBackend{claimed: map[int64]service.BMPOp{}, outcomes: map[int64]error{}, bmpDown: map[int64]bool{},
		changed: make(chan struct{})}
}

func (b *memBackend) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *memBackend) setBMPs(eps ...service.BMPEndpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bmps = slices.Clone(eps)
}

// add queues ops (IDs are assigned) and publishes the BMPs' change.
func (b *memBackend) add(ops ...service.BMPOp) []int64 {
	b.mu.Lock()
	var ids []int64
	var bmps []int64
	for _, op := range ops {
		b.nextID++
		op.ID = b.nextID
		b.open = append(b.open, op)
		ids = append(ids, op.ID)
		bmps = append(bmps, op.BMPID)
	}
	feeds := slices.Clone(b.feeds)
	b.mu.Unlock()
	for _, f := range feeds {
		f.publish(bmps)
	}
	return ids
}

func (b *memBackend) BMPs(ctx context.Context) ([]service.BMPEndpoint, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bmps), nil
}

func (b *memBackend) ClaimBMPOps(ctx context.Context, bmpID int64) ([]service.BMPOp, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	busy := map[int]bool{}
	for _, op := range b.claimed {
		if op.BMPID == bmpID {
			busy[op.BoardNum] = true
		}
	}
	var got []service.BMPOp
	rest := b.open[:0]
	for _, op := range b.open {
		if op.BMPID == bmpID && !busy[op.BoardNum] {
			got = append(got, op)
			b.claimed[op.ID] = op
		} else {
			rest = append(rest, op)
		}
	}
	b.open = rest
	if len(got) > 0 {
		b.claims++
		b.notify()
	}
	return got, nil
}

// hang makes a call wait until its context ends if the backend is stuck.
func (b *memBackend) hang(ctx context.Context) error {
	b.mu.Lock()
	stuck := b.stuck
	if stuck {
		b.waited++
		b.notify()
	}
	b.mu.Unlock()
	if !stuck {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (b *memBackend) CompleteBMPOps(ctx context.Context, results []service.OpResult) error {
	if err := b.hang(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range results {
		if _, ok := b.claimed[r.OpID]; !ok {
			return errors.New("outcome for an op that is not claimed")
		}
		delete(b.claimed, r.OpID)
		b.outcomes[r.OpID] = r.Err
		b.bmpDown[r.OpID] = r.BMPDown
	}
	b.notify()
	return nil
}

// ReleaseBMPOps puts claimed ops back, in request order.
func (b *memBackend) ReleaseBMPOps(ctx context.Context, opIDs []int64) error {
	if err := b.hang(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range opIDs {
		if op, ok := b.claimed[id]; ok {
			delete(b.claimed, id)
			b.open = append(b.open, op)
			b.released = append(b.released, id)
		}
	}
	slices.SortFunc(b.open, func(x, y service.BMPOp) int { return cmp.Compare(x.ID, y.ID) })
	b.notify()
	return nil
}

func (b *memBackend) wasReleased(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.released, id)
}

// reachCall is one SetBMPReachable call.
type reachCall struct {
	bmp       int64
	reachable bool
	reason    string
}

func (b *memBackend) SetBMPReachable(ctx context.Context, bmpID int64, reachable bool, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reach = append(b.reach, reachCall{bmpID, reachable, reason})
	b.notify()
	return nil
}

// reachability returns the last SetBMPReachable call for a BMP, if any.
func (b *memBackend) reachability(bmpID int64) (reachCall, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.reach) - 1; i >= 0; i-- {
		if b.reach[i].bmp == bmpID {
			return b.reach[i], true
		}
	}
	return reachCall{}, false
}

// wasDown reports whether an op was reported with BMPDown.
func (b *memBackend) wasDown(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bmpDown[id]
}

// outcome returns an op's outcome and whether it has one.
func (b *memBackend) outcome(id int64) (error, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	err, ok := b.outcomes[id]
	return err, ok
}

func (b *memBackend) isClaimed(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.claimed[id]
	return ok
}

// await blocks until cond holds (re-checked after every claim and outcome).
func (b *memBackend) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b.mu.Lock()
		ch := b.changed
		b.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// awaitOutcomes waits until every op has an outcome and returns them.
func (b *memBackend) awaitOutcomes(t *testing.T, ids ...int64) []error {
	t.Helper()
	b.await(t, "every op has an outcome", func() bool {
		for _, id := range ids {
			if _, ok := b.outcome(id); !ok {
				return false
			}
		}
		return true
	})
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i], _ = b.outcome(id)
	}
	return errs
}

func (b *memBackend) subscribe() changeFeed {
	f := &memFeed{c: make(chan struct{}, 1)}
	b.mu.Lock()
	b.feeds = append(b.feeds, f)
	b.mu.Unlock()
	return f
}

type memFeed struct {
	c    chan struct{}
	mu   sync.Mutex
	bmps []int64
}

func (f *memFeed) publish(bmps []int64) {
	f.mu.Lock()
	f.bmps = append(f.bmps, bmps...)
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
}

func (f *memFeed) Ready() <-chan struct{} { return f.c }
func (f *memFeed) Take() service.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := service.Change{BMPs: f.bmps}
	f.bmps = nil
	return ch
}
func (f *memFeed) Close() {}

// fastSettings are [bmp] settings for loopback fakes: no post-power-on
// wait and a short request retry delay. The time-outs are generous, so
// that a loaded machine never turns a success into a retry; tests of
// unanswered requests use shortTimeouts.
func fastSettings() config.BMPSettings {
	return config.BMPSettings{
		Timeout: time.Second, Retries: 1,
		PowerOnTimeout: 2 * time.Second, PowerOffTimeout: time.Second,
		FPGACheckRounds: 3, RequestAttempts: 2, RequestRetryDelay: 20 * time.Millisecond,
	}
}

// shortTimeouts are fastSettings for tests in which the fake drops or
// delays replies on purpose.
func shortTimeouts() config.BMPSettings {
	s := fastSettings()
	s.Timeout, s.PowerOnTimeout, s.PowerOffTimeout = 100*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond
	return s
}

func startFake(t *testing.T, opts fakebmp.Options) *fakebmp.Server {
	t.Helper()
	srv, err := fakebmp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func endpoint(id int64, srv *fakebmp.Server) service.BMPEndpoint {
	return service.BMPEndpoint{ID: id, Machine: "m", Cabinet: 0, Frame: int(id), Address: srv.Addr()}
}

// startManager runs a manager over be until the test ends (or stop).
func startManager(t *testing.T, be *memBackend, opts ManagerOptions) (m *Manager, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m = newManager(be, be.subscribe, opts)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return m, stop
}

func op(bmp int64, kind service.OpKind, board int, link geometry.Link) service.BMPOp {
	o := service.BMPOp{BMPID: bmp, Board: geometry.Board{X: 0, Y: 0, Z: board % 3}, BoardNum: board, Kind: kind}
	if kind == service.OpLinkOn || kind == service.OpLinkOff {
		o.Links = []geometry.Link{link}
	}
	return o
}

// powerPackets lists the power requests a fake received as "on[..]" or
// "off[..]".
func powerPackets(srv *fakebmp.Server) []string {
	var out []string
	for _, r := range srv.Requests(scp.CmdPower) {
		on, _, mask, err := scp.PowerArgs(r)
		if err != nil {
			out = append(out, "bad")
			continue
		}
		dir := "off"
		if on {
			dir = "on"
		}
		out = append(out, dir+fmt.Sprint(scp.MaskBoards(mask)))
	}
	return out
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("op %d failed: %v", i, err)
		}
	}
}

func stopRegister(l geometry.Link) (fpga int, addr uint32) {
	fpga, addr, _ = scp.StopRegister(l)
	return fpga, addr
}

// TestWorkerJobSetup is BMP-05 on the happy path: a triad's power-on
// is one packet, its periphery links are stopped and nothing else, and a
// later power-off is one packet without link writes (BMP-06).
func TestWorkerJobSetup(t *testing.T) {
	srv := startFake(t, fakebmp.Options{Boards: []int{0, 1, 2, 3}})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	startManager(t, be, ManagerOptions{Settings: fastSettings()})

	periphery := map[int][]geometry.Link{0: {3, 4, 5}, 1: {0, 1}, 2: {1, 2}}
	ops := []service.BMPOp{op(1, service.OpPowerOn, 0, 0), op(1, service.OpPowerOn, 1, 0), op(1, service.OpPowerOn, 2, 0)}
	for b := range 3 {
		for _, l := range periphery[b] {
			ops = append(ops, op(1, service.OpLinkOff, b, l))
		}
	}
	noErrors(t, be.awaitOutcomes(t, be.add(ops...)...))

	if got, want := powerPackets(srv), []string{"on[0 1 2]"}; !slices.Equal(got, want) {
		t.Errorf("power packets %q, want %q", got, want)
	}
	for b := range 4 {
		if srv.Power(b) != (b < 3) {
			t.Errorf("board %d power %v", b, srv.Power(b))
		}
	}
	for b := range 3 {
		for l := geometry.Link(0); l < 6; l++ {
			fpga, addr := stopRegister(l)
			want := uint32(0)
			if slices.Contains(periphery[b], l) {
				want = 1
			}
			if got := srv.Register(b, fpga, addr); got != want {
				t.Errorf("board %d link %v STOP = %d, want %d", b, l, got, want)
			}
		}
	}
	if n := srv.Count(scp.CmdFPGAWrite); n != 7 {
		t.Errorf("%d FPGA writes, want 7", n)
	}
	if n := srv.Count(scp.CmdFPGARead); n != 9 {
		t.Errorf("%d FLAG reads, want 9 (3 boards x 3 FPGAs)", n)
	}

	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOff, 0, 0), op(1, service.OpPowerOff, 1, 0), op(1, service.OpPowerOff, 2, 0))...))
	if got, want := powerPackets(srv), []string{"on[0 1 2]", "off[0 1 2]"}; !slices.Equal(got, want) {
		t.Errorf("power packets %q, want %q", got, want)
	}
	if n := srv.Count(scp.CmdFPGAWrite); n != 7 {
		t.Errorf("power-off wrote FPGA registers: %d writes in all", n)
	}
	for b := range 3 {
		if srv.Power(b) {
			t.Errorf("board %d still on", b)
		}
	}
	if n := srv.OffBoardAccesses(); n != 0 {
		t.Errorf("%d FPGA accesses to boards that were off", n)
	}
}

// TestWorkerCoalescing queues ops before the worker claims them and counts the
// packets the fake receives (BMP-02, BMP-03, BMP-04).
func TestWorkerCoalescing(t *testing.T) {
	on, off, lon := service.OpPowerOn, service.OpPowerOff, service.OpLinkOn
	tests := []struct {
		name  string
		ops   []service.BMPOp
		power []string
		last  scp.Command // command of the last request, 0 = do not check
	}{
		{"BMP-02", []service.BMPOp{op(1, off, 10, 0), op(1, off, 11, 0), op(1, off, 13, 0)}, []string{"off[10 11 13]"}, scp.CmdPower},
		{"BMP-03", []service.BMPOp{op(1, off, 10, 0), op(1, on, 11, 0), op(1, off, 12, 0)}, []string{"off[10]", "on[11]", "off[12]"}, 0},
		{"BMP-04", []service.BMPOp{op(1, on, 10, 0), op(1, lon, 11, 0), op(1, off, 12, 0)}, []string{"on[10]", "off[12]"}, scp.CmdFPGAWrite},
		// The service supersedes older power requests before a claim; a
		// claim that still holds several (after a release or a restart) is
		// carried out in order.
		{"every power op of a board in request order", []service.BMPOp{op(1, on, 10, 0), op(1, off, 10, 0), op(1, on, 10, 0)}, []string{"on[10]", "off[10]", "on[10]"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, fakebmp.Options{})
			be := newMemBackend()
			ids := be.add(tc.ops...) // queued before the worker starts
			be.setBMPs(endpoint(1, srv))
			startManager(t, be, ManagerOptions{Settings: fastSettings()})
			noErrors(t, be.awaitOutcomes(t, ids...))
			if got := powerPackets(srv); !slices.Equal(got, tc.power) {
				t.Errorf("power packets %q, want %q", got, tc.power)
			}
			ex := srv.Exchanges()
			if tc.last != 0 && ex[len(ex)-1].Request.Cmd != tc.last {
				t.Errorf("last request %v, want %v", ex[len(ex)-1].Request.Cmd, tc.last)
			}
		})
	}
}

// TestWorkerOldFirmware: BMP firmware 1.x gets no FLAG reads and no link writes,
// and the job's ops still succeed.
func TestWorkerOldFirmware(t *testing.T) {
	srv := startFake(t, fakebmp.Options{Version: "1.3.0"})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	startManager(t, be, ManagerOptions{Settings: fastSettings()})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 4, 0), op(1, service.OpLinkOff, 4, 2))...))
	if r, w := srv.Count(scp.CmdFPGARead), srv.Count(scp.CmdFPGAWrite); r != 0 || w != 0 {
		t.Errorf("%d FPGA reads and %d writes on firmware 1.3.0, want none", r, w)
	}
	if !srv.Power(4) {
		t.Error("board 4 is off")
	}
}

// TestWorkerFaults covers the faults a BMP can show: the failing boards' ops
// fail (and only theirs), after the whole request was tried again.
func TestWorkerFaults(t *testing.T) {
	type result struct{ ok, failed []int } // boards whose ops succeeded / failed
	tests := []struct {
		name   string
		fault  func(*fakebmp.Server)
		want   result
		errIs  func(error) bool
		powers map[int]int // power-ons that reached each board
		short  bool        // replies are dropped: use short time-outs
		down   bool        // the failures are the link's: reported with BMPDown
	}{
		{
			name:   "FLAG mismatch on one board twice: re-powered, success in round 3",
			fault:  func(s *fakebmp.Server) { s.SetFlag(1, 2, 3, 2) },
			want:   result{ok: []int{0, 1, 2}},
			powers: map[int]int{0: 1, 1: 3, 2: 1},
		},
		{
			name:   "FLAG mismatch in every round: that board fails after the request retry",
			fault:  func(s *fakebmp.Server) { s.SetFlag(1, 0, 2, 100) },
			want:   result{ok: []int{0, 2}, failed: []int{1}},
			errIs:  func(err error) bool { var fe *FPGAMismatchError; return errors.As(err, &fe) && fe.Board == 1 },
			powers: map[int]int{0: 1, 1: 6, 2: 1}, // 3 rounds x 2 attempts
		},
		{
			name: "first power-on dropped: request retried, success",
			fault: func(s *fakebmp.Server) {
				s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Count: 1, Action: fakebmp.Drop()})
			},
			want:   result{ok: []int{0, 1, 2}},
			powers: map[int]int{0: 1, 1: 1, 2: 1},
		},
		{
			name: "every power-on dropped: every op fails with a time-out, blamed on the link",
			fault: func(s *fakebmp.Server) {
				s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Action: fakebmp.Drop()})
			},
			want:   result{failed: []int{0, 1, 2}},
			errIs:  func(err error) bool { var te *TimeoutError; return errors.As(err, &te) },
			powers: map[int]int{0: 0, 1: 0, 2: 0},
			short:  true,
			down:   true,
		},
		{
			name: "RC_ARG to one board's STOP writes: that board's ops fail, after a retry",
			fault: func(s *fakebmp.Server) {
				s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdFPGAWrite}, Boards: []int{2}, Action: fakebmp.Error(scp.RCArg)})
			},
			want:  result{ok: []int{0, 1}, failed: []int{2}},
			errIs: func(err error) bool { var re *ResultError; return errors.As(err, &re) && re.Code == scp.RCArg },
			// board 2 failed its links only: power op done, link op failed
			powers: map[int]int{0: 1, 1: 1, 2: 1},
		},
		{
			name:   "late duplicate replies are ignored",
			fault:  func(s *fakebmp.Server) { s.SetDuplicate(true) },
			want:   result{ok: []int{0, 1, 2}},
			powers: map[int]int{0: 1, 1: 1, 2: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, fakebmp.Options{})
			tc.fault(srv)
			be := newMemBackend()
			be.setBMPs(endpoint(1, srv))
			settings := fastSettings()
			if tc.short {
				settings = shortTimeouts()
			}
			startManager(t, be, ManagerOptions{Settings: settings})
			var ops []service.BMPOp
			for b := range 3 {
				ops = append(ops, op(1, service.OpPowerOn, b, 0))
			}
			for b := range 3 {
				ops = append(ops, op(1, service.OpLinkOff, b, 0))
			}
			ids := be.add(ops...)
			errs := be.awaitOutcomes(t, ids...)
			boardFailed := map[int]bool{}
			for i, err := range errs {
				b := ops[i].BoardNum
				if err != nil && be.wasDown(ids[i]) != tc.down {
					t.Errorf("board %d %s: BMP down %v, want %v: %v", b, ops[i].Kind, be.wasDown(ids[i]), tc.down, err)
				}
				if err != nil {
					boardFailed[b] = true
					if tc.errIs != nil && !tc.errIs(err) {
						t.Errorf("board %d %s: unexpected error %v", b, ops[i].Kind, err)
					}
				}
			}
			for _, b := range tc.want.ok {
				if boardFailed[b] {
					t.Errorf("board %d has a failed op: %v", b, errs)
				}
			}
			for _, b := range tc.want.failed {
				if !boardFailed[b] {
					t.Errorf("board %d has no failed op", b)
				}
			}
			for b, n := range tc.powers {
				if got := srv.PowerOns(b); got != n {
					t.Errorf("board %d got %d power-ons, want %d", b, got, n)
				}
			}
			if n := srv.OffBoardAccesses(); n != 0 {
				t.Errorf("%d FPGA accesses to boards that were off", n)
			}
		})
	}
}

// TestWorkerFailedPowerOnDefersLinks: when a board's power-on fails, its link
// ops are not sent to the (possibly off) board; they share the retry and
// the final failure.
func TestWorkerFailedPowerOnDefersLinks(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	srv.SetFlag(0, 1, 0, 100)
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	s := fastSettings()
	s.FPGACheckRounds = 1
	startManager(t, be, ManagerOptions{Settings: s})
	errs := be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 0, 0), op(1, service.OpLinkOff, 0, 3))...)
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("outcomes %v, want both failed", errs)
	}
	var fe *FPGAMismatchError
	if !errors.As(errs[1], &fe) {
		t.Errorf("link op error %v does not carry the power-on failure", errs[1])
	}
	if n := srv.Count(scp.CmdFPGAWrite); n != 0 {
		t.Errorf("%d link writes to a board whose power-on failed", n)
	}
}

// TestWorkerDownBMPAtStart: a BMP that does not answer at start is marked
// unreachable and its ops are not claimed, while another BMP's ops
// complete; once it answers a probe it is marked reachable and its ops are
// carried out.
func TestWorkerDownBMPAtStart(t *testing.T) {
	down := startFake(t, fakebmp.Options{})
	down.SetUnreachable(true)
	up := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, down), endpoint(2, up))
	downIDs := be.add(op(1, service.OpPowerOn, 0, 0))
	startManager(t, be, ManagerOptions{Settings: shortTimeouts(), ProbeInterval: 10 * time.Millisecond})
	noErrors(t, be.awaitOutcomes(t, be.add(op(2, service.OpPowerOn, 0, 0), op(2, service.OpLinkOff, 0, 1))...))
	be.await(t, "BMP 1 is marked unreachable", func() bool { _, ok := be.reachability(1); return ok })
	if r, _ := be.reachability(1); r.reachable || !strings.Contains(r.reason, "no reply") {
		t.Fatalf("BMP 1 recorded as %+v, want unreachable with the time-out", r)
	}
	if r, ok := be.reachability(2); !ok || !r.reachable {
		t.Errorf("BMP 2 recorded as %+v (%v), want reachable", r, ok)
	}
	if be.isClaimed(downIDs[0]) || down.Count(scp.CmdPower) != 0 {
		t.Fatal("an op of the unreachable BMP was claimed")
	}

	down.SetUnreachable(false)
	noErrors(t, be.awaitOutcomes(t, downIDs...))
	if r, _ := be.reachability(1); !r.reachable {
		t.Errorf("BMP 1 recorded as %+v after it answered", r)
	}
	if !down.Power(0) {
		t.Error("board 0 of the BMP that came back is off")
	}
}

// TestWorkerBMPStopsAnswering: ops whose requests go unanswered, on a BMP
// that then does not answer a probe either, are reported with BMPDown; the
// worker claims nothing until the BMP answers again.
func TestWorkerBMPStopsAnswering(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	startManager(t, be, ManagerOptions{Settings: shortTimeouts(), ProbeInterval: 10 * time.Millisecond})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 5, 0))...))

	srv.SetUnreachable(true)
	ids := be.add(op(1, service.OpPowerOn, 0, 0), op(1, service.OpLinkOff, 0, 1), op(1, service.OpPowerOff, 5, 0))
	for i, err := range be.awaitOutcomes(t, ids...) {
		var te *TimeoutError
		if !errors.As(err, &te) || !be.wasDown(ids[i]) {
			t.Errorf("op %d: %v (BMP down %v), want a time-out blamed on the BMP", i, err, be.wasDown(ids[i]))
		}
	}
	be.await(t, "BMP 1 is marked unreachable", func() bool { r, ok := be.reachability(1); return ok && !r.reachable })
	later := be.add(op(1, service.OpPowerOn, 1, 0))
	if be.isClaimed(later[0]) {
		t.Fatal("an op was claimed while the BMP is unreachable")
	}
	srv.SetUnreachable(false)
	noErrors(t, be.awaitOutcomes(t, later...))
	if r, _ := be.reachability(1); !r.reachable {
		t.Errorf("BMP recorded as %+v after it answered", r)
	}
}

// logRecorder keeps every log record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}

// at lists the messages logged at level or above, in order.
func (l *logRecorder) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level >= level {
			out = append(out, r.Level.String()+" "+r.Message)
		}
	}
	return out
}

// TestWorkerLogsReachabilityOncePerTransition (issue 14.9): the service
// logs a BMP's reachability transitions for the operator (see
// service.TestBMPReachabilityIsLoggedOncePerTransition), so the worker
// keeps its own to DEBUG: once down and once up, however many probes go
// unanswered in between, and nothing about it at INFO or above.
func TestWorkerLogsReachabilityOncePerTransition(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	logs := &logRecorder{}
	_, stopMgr := startManager(t, be, ManagerOptions{Settings: shortTimeouts(), ProbeInterval: 10 * time.Millisecond, Logger: slog.New(logs)})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 5, 0))...))

	srv.SetUnreachable(true)
	be.awaitOutcomes(t, be.add(op(1, service.OpPowerOff, 5, 0))...)
	be.await(t, "the BMP is marked unreachable", func() bool { r, ok := be.reachability(1); return ok && !r.reachable })
	probes := srv.Count(scp.CmdVersion)
	// Several probes go unanswered (no event to wait on: poll).
	for deadline := time.Now().Add(10 * time.Second); srv.Count(scp.CmdVersion) < probes+22; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker does not probe")
		}
	}
	srv.SetUnreachable(false)
	be.await(t, "the BMP is marked reachable", func() bool { r, _ := be.reachability(1); return r.reachable })
	stopMgr() // every log line is written

	want := []string{
		"INFO BMP worker started",
		"WARN BMP step failed", // the power-off, before the probe
		"ERROR BMP operation failed",
	}
	if got := logs.at(slog.LevelInfo); !slices.Equal(got, want) {
		t.Errorf("logged at INFO and above:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var transitions []string
	for _, line := range logs.at(slog.LevelDebug) {
		if strings.HasPrefix(line, "DEBUG BMP unreachable") || strings.HasPrefix(line, "DEBUG BMP answers again") {
			transitions = append(transitions, line)
		}
	}
	if want := []string{"DEBUG BMP unreachable: probing it until it answers", "DEBUG BMP answers again"}; !slices.Equal(transitions, want) {
		t.Errorf("reachability at DEBUG:\n%s\nwant\n%s", strings.Join(transitions, "\n"), strings.Join(want, "\n"))
	}
}

type recorder struct {
	mu    sync.Mutex
	steps []StepEvent
	ops   []OpEvent
}

func (r *recorder) Step(e StepEvent) { r.mu.Lock(); r.steps = append(r.steps, e); r.mu.Unlock() }
func (r *recorder) OpDone(e OpEvent) { r.mu.Lock(); r.ops = append(r.ops, e); r.mu.Unlock() }

// TestWorkerObserver: the metrics hooks see each step (with its failure)
// and each op's outcome with the attempts it took.
func TestWorkerObserver(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	srv.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Count: 1, Action: fakebmp.Drop()})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	rec := &recorder{}
	_, stopMgr := startManager(t, be, ManagerOptions{Settings: shortTimeouts(), Observer: rec})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 3, 0), op(1, service.OpLinkOff, 3, 4))...))
	stopMgr()
	var kinds []string
	for _, e := range rec.steps {
		k := e.Kind
		if e.Err != nil {
			var te *TimeoutError
			if !errors.As(e.Err, &te) || e.Failed != e.Boards {
				t.Errorf("failed step %+v, want a time-out of every board", e)
			}
			k += "!"
		}
		kinds = append(kinds, k)
	}
	if want := []string{"power_on!", "power_on", "links"}; !slices.Equal(kinds, want) {
		t.Errorf("steps %q, want %q (the link step skipped after the time-out)", kinds, want)
	}
	if len(rec.ops) != 2 {
		t.Fatalf("%d op events, want 2", len(rec.ops))
	}
	for _, e := range rec.ops {
		if e.Attempts != 2 || e.Err != nil || e.BMP.ID != 1 {
			t.Errorf("op event %+v, want done in attempt 2 on BMP 1", e)
		}
	}
}

// TestWorkerBadAddress: a BMP whose address cannot be used is marked
// unreachable, with an error naming the address, and its ops are not
// claimed (they would only fail).
func TestWorkerBadAddress(t *testing.T) {
	be := newMemBackend()
	be.setBMPs(service.BMPEndpoint{ID: 1, Machine: "m", Address: "127.0.0.1:0"})
	ids := be.add(op(1, service.OpPowerOn, 0, 0), op(1, service.OpLinkOff, 0, 1))
	_, stopMgr := startManager(t, be, ManagerOptions{Settings: fastSettings(), ProbeInterval: time.Millisecond})
	be.await(t, "the BMP is marked unreachable", func() bool { _, ok := be.reachability(1); return ok })
	stopMgr()
	if r, _ := be.reachability(1); r.reachable || !strings.Contains(r.reason, `"127.0.0.1:0"`) {
		t.Errorf("recorded %+v, want unreachable naming the address", r)
	}
	for _, id := range ids {
		if _, done := be.outcome(id); done || be.isClaimed(id) {
			t.Errorf("op %d was claimed", id)
		}
	}
}

// TestWorkerStopLetsInFlightPacketFinish: stopping while a power-on is on the
// wire waits for its answer and records the outcome; the op not started is
// released.
func TestWorkerStopLetsInFlightPacketFinish(t *testing.T) {
	srv := startFake(t, fakebmp.Options{PowerDelay: 100 * time.Millisecond})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	_, stopMgr := startManager(t, be, ManagerOptions{Settings: fastSettings(), StopGrace: 10 * time.Second})
	ids := be.add(op(1, service.OpPowerOn, 0, 0), op(1, service.OpLinkOff, 0, 2))
	srv.Await(context.Background(), func() bool { return srv.Count(scp.CmdPower) > 0 })
	stopMgr()
	if err, ok := be.outcome(ids[0]); !ok || err != nil {
		t.Errorf("power-on in flight at stop: outcome %v (recorded %v), want done", err, ok)
	}
	if srv.Count(scp.CmdFPGAWrite) != 0 {
		t.Error("link writes were started after the stop")
	}
	if _, done := be.outcome(ids[1]); done || be.isClaimed(ids[1]) || !be.wasReleased(ids[1]) {
		t.Error("the link op not yet started should be released, to be handed out again")
	}
}

// TestWorkerStopIsBoundedWhenTheServiceHangs: a worker told to stop while
// the service takes none of its calls (a database stuck on a full disk,
// say) stops within its stop grace and StopCallsTimeout: its last two
// calls (recording the outcome it holds, releasing its claim) share that
// budget, so that the daemon's stop keeps to its bound.
func TestWorkerStopIsBoundedWhenTheServiceHangs(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	be.stuck = true
	const grace = 50 * time.Millisecond
	_, stopMgr := startManager(t, be, ManagerOptions{Settings: fastSettings(), StopGrace: grace})
	be.add(op(1, service.OpPowerOn, 0, 0))
	be.await(t, "the worker waits to record the power-on", func() bool {
		be.mu.Lock()
		defer be.mu.Unlock()
		return be.waited > 0
	})
	began := time.Now()
	stopMgr()
	// The bound plus a second for a loaded machine; without a shared
	// budget the two calls took a time-out each.
	if took, bound := time.Since(began), grace+StopCallsTimeout; took > bound+time.Second {
		t.Errorf("the manager stopped %v after it was told, want about %v at most", took.Round(time.Millisecond), bound)
	}
}

// TestWorkerSync starts workers for added BMPs and stops those of removed ones.
func TestWorkerSync(t *testing.T) {
	a := startFake(t, fakebmp.Options{})
	b := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, a))
	m, _ := startManager(t, be, ManagerOptions{Settings: fastSettings()})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 0, 0))...))

	be.setBMPs(endpoint(2, b))
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	noErrors(t, be.awaitOutcomes(t, be.add(op(2, service.OpPowerOn, 5, 0))...))
	if !b.Power(5) {
		t.Error("new BMP's board 5 is off")
	}
	ids := be.add(op(1, service.OpPowerOff, 0, 0)) // for the removed BMP
	// The removed BMP's worker is gone: a sync round trip later (which
	// also delivers the wake-up), nothing has claimed the op.
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !a.Power(0) || be.isClaimed(ids[0]) {
		t.Error("a removed BMP's worker still claims and sends")
	}
}

// TestWorkerPowerOnRate: with a rate of 2 boards per second, a power-on of 3
// boards goes as two packets, the second one at least a second later.
func TestWorkerPowerOnRate(t *testing.T) {
	srv := startFake(t, fakebmp.Options{})
	be := newMemBackend()
	be.setBMPs(endpoint(1, srv))
	s := fastSettings()
	s.PowerOnRate = 2
	startManager(t, be, ManagerOptions{Settings: s})
	noErrors(t, be.awaitOutcomes(t, be.add(op(1, service.OpPowerOn, 0, 0), op(1, service.OpPowerOn, 1, 0), op(1, service.OpPowerOn, 2, 0))...))
	if got, want := powerPackets(srv), []string{"on[0 1]", "on[2]"}; !slices.Equal(got, want) {
		t.Fatalf("power packets %q, want %q", got, want)
	}
	var at []time.Time
	for _, e := range srv.Exchanges() {
		if e.Request.Cmd == scp.CmdPower {
			at = append(at, e.At)
		}
	}
	// The pacer's arithmetic is exact (TestWorkerPacer); here the gap is
	// seen at the fake, after scheduling delays of either packet.
	if gap := at[1].Sub(at[0]); gap < 900*time.Millisecond {
		t.Errorf("second power-on %v after the first, want about 1s at 2 boards/s", gap)
	}
}

func TestWorkerPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		rate   float64
		n      int
		chunk  int
		starts []time.Duration // offsets from t0 of successive reservations of chunk boards at t0
	}{
		{rate: 0, n: 24, chunk: 24, starts: []time.Duration{0, 0, 0}},
		{rate: 10, n: 24, chunk: 10, starts: []time.Duration{0, time.Second, 2 * time.Second}},
		{rate: 0.5, n: 3, chunk: 1, starts: []time.Duration{0, 2 * time.Second, 4 * time.Second}},
		{rate: 100, n: 24, chunk: 24, starts: []time.Duration{0, 240 * time.Millisecond, 480 * time.Millisecond}},
	}
	for _, tc := range tests {
		p := pacer{rate: tc.rate}
		if got := p.chunkSize(tc.n); got != tc.chunk {
			t.Errorf("rate %v: chunk of %d boards = %d, want %d", tc.rate, tc.n, got, tc.chunk)
		}
		for i, want := range tc.starts {
			if got := p.reserve(t0, tc.chunk).Sub(t0); got != want {
				t.Errorf("rate %v: reservation %d starts at +%v, want +%v", tc.rate, i, got, want)
			}
		}
	}
	// An idle BMP gets no credit beyond its next chunk.
	p := pacer{rate: 10}
	p.reserve(t0, 10)
	if got := p.reserve(t0.Add(time.Hour), 10); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("after an idle hour the next power-on waits until %v", got)
	}
}
