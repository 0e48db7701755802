package bmp_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// These tests run the BMP manager against a real service on a SQLite file
// and one in-process fake BMP per frame, over real UDP on loopback. The
// fakes stand at the configured BMP addresses through Resolve.

// rig is a service, its fake BMPs and (while started) a BMP manager.
type rig struct {
	t   *testing.T
	ctx context.Context
	svc *testutil.Service

	mu      sync.Mutex
	fakes   map[string]*fakebmp.Server // by configured BMP address
	proxies map[string]*udpproxy.Proxy // by configured BMP address: in front of its fake

	mgr  *bmp.Manager
	stop func()
}

// The [bmp] settings of these tests (worker_test.go).
var (
	fastBMP  = bmp.FastSettings
	shortBMP = bmp.ShortTimeouts
)

func newRig(t *testing.T, grids ...testutil.Grid) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), fakes: map[string]*fakebmp.Server{}, proxies: map[string]*udpproxy.Proxy{}}
	r.svc = testutil.NewService(t, testutil.Grids(grids...))
	r.addFakes()
	return r
}

// addFakes starts a fake for every BMP the service lists that has none.
func (r *rig) addFakes() {
	r.t.Helper()
	eps, err := r.svc.BMPs(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ep := range eps {
		if r.fakes[ep.Address] != nil {
			continue
		}
		srv, err := fakebmp.New(fakebmp.Options{})
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			r.t.Fatal(err)
		}
		r.t.Cleanup(func() { srv.Close() })
		r.fakes[ep.Address] = srv
	}
}

func (r *rig) resolve(address string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.proxies[address]; p != nil {
		return p.Addr()
	}
	if srv := r.fakes[address]; srv != nil {
		return srv.Addr()
	}
	return address
}

// start runs a BMP manager until the test ends or r.stop is called.
func (r *rig) start(settings config.BMPSettings) {
	r.t.Helper()
	r.startWith(bmp.NewManager(r.svc.Service, r.managerOptions(settings)))
}

func (r *rig) managerOptions(settings config.BMPSettings) bmp.ManagerOptions {
	return bmp.ManagerOptions{Settings: settings, Resolve: r.resolve, StopGrace: 50 * time.Millisecond, ProbeInterval: 20 * time.Millisecond}
}

// startWith runs mgr as start does.
func (r *rig) startWith(mgr *bmp.Manager) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.mgr = mgr
	errc := make(chan error, 1)
	go func() { errc <- mgr.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				r.t.Errorf("Run: %v", err)
			}
		})
	}
	r.t.Cleanup(r.stop) // runs before the service closes
}

// fake is the fake BMP of frame (cabinet, frame) of a machine.
func (r *rig) fake(machine string, cabinet, frame int) *fakebmp.Server {
	r.t.Helper()
	address := r.bmpAddress(machine, cabinet, frame)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fakes[address]
}

// bmpAddress is the configured address of the BMP of frame (cabinet,
// frame) of a machine.
func (r *rig) bmpAddress(machine string, cabinet, frame int) string {
	r.t.Helper()
	eps, err := r.svc.BMPs(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, ep := range eps {
		if ep.Machine == machine && ep.Cabinet == cabinet && ep.Frame == frame {
			return ep.Address
		}
	}
	r.t.Fatalf("no BMP for %s c%d f%d", machine, cabinet, frame)
	return ""
}

// proxy puts a UDP proxy (package internal/udpproxy) between the workers
// and the fake BMP of frame (cabinet, frame) of a machine; call it before
// start.
func (r *rig) proxy(machine string, cabinet, frame int) *udpproxy.Proxy {
	r.t.Helper()
	address := r.bmpAddress(machine, cabinet, frame)
	p, err := udpproxy.Start("127.0.0.1:0", r.fake(machine, cabinet, frame).Addr())
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { p.Close() })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proxies[address] = p
	return p
}

func (r *rig) create(shape service.Shape) int64 {
	r.t.Helper()
	return r.createReq(service.CreateJobRequest{Owner: "me", Shape: shape})
}

func (r *rig) createReq(req service.CreateJobRequest) int64 {
	r.t.Helper()
	id, err := r.svc.CreateJob(r.ctx, req)
	if err != nil {
		r.t.Fatalf("create job: %v", err)
	}
	return id
}

func (r *rig) status(id int64) service.JobStatus {
	r.t.Helper()
	st, err := r.svc.JobState(r.ctx, id, "")
	if err != nil {
		r.t.Fatalf("job %d state: %v", id, err)
	}
	return st
}

// await waits (on the change feed, no polling) until cond holds.
func (r *rig) await(what string, cond func() bool) {
	r.t.Helper()
	r.awaitWithin(10*time.Second, what, cond)
}

// awaitWithin is await with a time limit of d.
func (r *rig) awaitWithin(d time.Duration, what string, cond func() bool) {
	r.t.Helper()
	sub := r.svc.Subscribe()
	defer sub.Close()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for !cond() {
		select {
		case <-sub.C:
			sub.Take()
		case <-timeout.C:
			r.t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (r *rig) awaitState(id int64, want service.JobState) service.JobStatus {
	r.t.Helper()
	var st service.JobStatus
	r.await(fmt.Sprintf("job %d is %v", id, want), func() bool {
		st = r.status(id)
		return st.State == want
	})
	return st
}

// physical returns where each of a job's boards sits.
func (r *rig) physical(machine string, boards []geometry.Board) map[geometry.Board]service.Physical {
	r.t.Helper()
	out := map[geometry.Board]service.Physical{}
	for _, b := range boards {
		p, err := r.svc.BoardPosition(r.ctx, machine, b)
		if err != nil || p == nil {
			r.t.Fatalf("position of %v: %v", b, err)
		}
		out[b] = *p
	}
	return out
}

func (r *rig) jobBoards(id int64) (string, []geometry.Board) {
	r.t.Helper()
	info, err := r.svc.JobMachineInfo(r.ctx, id, "")
	if err != nil || info == nil {
		r.t.Fatalf("job %d machine info: %v %v", id, info, err)
	}
	return info.MachineName, info.Boards
}

// holder is the job holding a board (nil if none).
func (r *rig) holder(machine string, b geometry.Board) *int64 {
	r.t.Helper()
	res, err := r.svc.WhereIs(r.ctx, service.WhereIsQuery{Machine: &machine, X: &b.X, Y: &b.Y, Z: &b.Z})
	if err != nil || res == nil {
		r.t.Fatalf("where_is %v: %v", b, err)
	}
	return res.JobID
}

// outOfService lists the boards of a machine that are out of service.
func (r *rig) outOfService(machine string) []geometry.Board {
	r.t.Helper()
	md, err := r.svc.MachineDetail(r.ctx, machine)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []geometry.Board
	for _, b := range md.Boards {
		if b.State() == service.BoardOutOfService {
			out = append(out, b.Board)
		}
	}
	return out
}

// checkJobHardware checks that exactly a job's boards are on at their
// frames' fakes and that exactly the links leaving the job are stopped.
func (r *rig) checkJobHardware(machine string, w, h int, boards []geometry.Board) {
	r.t.Helper()
	pos := r.physical(machine, boards)
	for _, b := range boards {
		p := pos[b]
		srv := r.fake(machine, p.Cabinet, p.Frame)
		if !srv.Power(p.Board) {
			r.t.Errorf("board %v (c%d f%d b%d) is off", b, p.Cabinet, p.Frame, p.Board)
		}
		for l := geometry.Link(0); l < 6; l++ {
			to, _ := geometry.BoardDownLink(b, l, w, h)
			fpga, addr, _ := scp.StopRegister(l)
			want := uint32(0)
			if !slices.Contains(boards, to) {
				want = 1
			}
			if got := srv.Register(p.Board, fpga, addr); got != want {
				r.t.Errorf("board %v link %v: STOP = %d, want %d", b, l, got, want)
			}
		}
	}
}

// poweredBoards counts the boards switched on across every fake.
func (r *rig) poweredBoards() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, srv := range r.fakes {
		for b := range 24 {
			if srv.Power(b) {
				n++
			}
		}
	}
	return n
}

func (r *rig) count(cmd scp.Command) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, srv := range r.fakes {
		n += srv.Count(cmd)
	}
	return n
}

func grid(name string, w, h int) testutil.Grid { return testutil.Grid{Name: name, Width: w, Height: h} }

func rect(w, h int) service.Shape { return service.Shape{Kind: service.ShapeRect, W: w, H: h} }
func board(x, y, z int) service.Shape {
	return service.Shape{Kind: service.ShapeBoard, X: x, Y: y, Z: z}
}

// TestManagerJobLifeCycle is JOB-01, JOB-02, BMP-05 and BMP-06 on
// grid(1,2): a one-triad job powers exactly its boards on and stops
// exactly its periphery links; power off and on again; destroy.
func TestManagerJobLifeCycle(t *testing.T) {
	r := newRig(t, grid("m", 1, 2))
	r.start(fastBMP())
	id := r.create(rect(1, 1))
	if st := r.status(id); st.State != service.StatePower && st.State != service.StateReady {
		t.Fatalf("new job is %v", st.State)
	}
	st := r.awaitState(id, service.StateReady)
	if st.Power == nil || !*st.Power {
		t.Errorf("ready job's power %v", st.Power)
	}
	machine, boards := r.jobBoards(id)
	if len(boards) != 3 {
		t.Fatalf("job boards %v", boards)
	}
	r.checkJobHardware(machine, 1, 2, boards)
	if n := r.poweredBoards(); n != 3 {
		t.Errorf("%d boards on, want the job's 3", n)
	}
	if n := r.count(scp.CmdPower); n != 1 {
		t.Errorf("%d power packets, want 1 for the triad", n)
	}
	writes := r.count(scp.CmdFPGAWrite)

	// JOB-02, BMP-06: power off -> power -> ready with power false, boards
	// kept, one power-off packet and no link writes.
	if err := r.svc.PowerOffJob(r.ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	st = r.awaitState(id, service.StateReady)
	if st.Power == nil || *st.Power {
		t.Errorf("powered-off job's power %v", st.Power)
	}
	if n := r.poweredBoards(); n != 0 {
		t.Errorf("%d boards still on", n)
	}
	if _, after := r.jobBoards(id); !slices.Equal(after, boards) {
		t.Errorf("boards changed from %v to %v", boards, after)
	}
	if n := r.count(scp.CmdFPGAWrite); n != writes {
		t.Errorf("power-off wrote %d link registers", n-writes)
	}

	// Power on again: boards on, periphery stopped again after the reload.
	if err := r.svc.PowerOnJob(r.ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	st = r.awaitState(id, service.StateReady)
	if st.Power == nil || !*st.Power {
		t.Errorf("powered-on job's power %v", st.Power)
	}
	r.checkJobHardware(machine, 1, 2, boards)
	writes = r.count(scp.CmdFPGAWrite)

	// Destroy: one power-off, no link writes, boards free again.
	if err := r.svc.DestroyJob(r.ctx, id, nil, ""); err != nil {
		t.Fatal(err)
	}
	r.await("the job's boards are off and free", func() bool {
		return r.poweredBoards() == 0 && r.holder(machine, boards[0]) == nil
	})
	if n := r.count(scp.CmdFPGAWrite); n != writes {
		t.Errorf("destroy wrote %d link registers", n-writes)
	}
	r.checkNoFPGAAccessWhileOff()
}

func (r *rig) checkNoFPGAAccessWhileOff() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, srv := range r.fakes {
		if n := srv.OffBoardAccesses(); n != 0 {
			r.t.Errorf("BMP %s: %d FPGA accesses to boards that were off", addr, n)
		}
	}
}

// TestManagerDestroyTwoFrameJob is BMP-06's second half: destroying a
// (1,2) job on grid(1,2) powers off boards 0..2 at both frames' BMPs and
// writes no links.
func TestManagerDestroyTwoFrameJob(t *testing.T) {
	r := newRig(t, grid("m", 1, 2))
	r.start(fastBMP())
	id := r.create(rect(1, 2))
	r.awaitState(id, service.StateReady)
	machine, boards := r.jobBoards(id)
	if n := r.poweredBoards(); n != 6 {
		t.Fatalf("%d boards on, want 6", n)
	}
	writes := r.count(scp.CmdFPGAWrite)
	if err := r.svc.DestroyJob(r.ctx, id, nil, ""); err != nil {
		t.Fatal(err)
	}
	r.await("every board is off and free", func() bool {
		for _, b := range boards {
			if r.holder(machine, b) != nil {
				return false
			}
		}
		return r.poweredBoards() == 0
	})
	for f := range 2 {
		srv := r.fake(machine, 0, f)
		var offs []string
		for _, req := range srv.Requests(scp.CmdPower) {
			on, _, mask, _ := scp.PowerArgs(req)
			if !on {
				offs = append(offs, fmt.Sprint(scp.MaskBoards(mask)))
			}
		}
		if !slices.Equal(offs, []string{"[0 1 2]"}) {
			t.Errorf("frame %d power-offs %v, want one for [0 1 2]", f, offs)
		}
	}
	if n := r.count(scp.CmdFPGAWrite); n != writes {
		t.Errorf("destroy wrote %d link registers", n-writes)
	}
}

// TestManagerFaultsRequeue: when the boards a job got fail to power on
// (the BMP answers with an error, or with wrong FPGA identities after
// every round), exactly the failed boards are taken out of service and the
// job is re-queued under its id; it lands on the other triad and becomes
// ready. No failed board stays held. (Requests the BMP does not answer
// take no board out of service: linkfault_test.go.)
func TestManagerFaultsRequeue(t *testing.T) {
	powerOn := []scp.Command{scp.CmdPower}
	tests := []struct {
		name    string
		fault   func(*fakebmp.Server)
		failing []int // board numbers of frame 0 taken out of service
	}{
		{"every power-on answered RC_CPU", func(s *fakebmp.Server) {
			s.AddRule(fakebmp.Rule{Cmds: powerOn, Power: fakebmp.PowerOn, Action: fakebmp.Error(scp.RCCPU)})
		}, []int{0, 1, 2}},
		{"board 1's FPGA 2 always reports the wrong id", func(s *fakebmp.Server) {
			s.SetFlag(1, 2, 0, 1000)
		}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, grid("m", 1, 2))
			sick := r.fake("m", 0, 0)
			tc.fault(sick)
			r.start(shortBMP())
			id := r.create(rect(1, 1))
			r.awaitState(id, service.StateReady)
			if sick.Count(scp.CmdPower) == 0 {
				t.Fatal("the job never went to frame 0: the test proves nothing")
			}
			machine, boards := r.jobBoards(id)
			for _, b := range boards {
				if b.Y != 1 {
					t.Fatalf("job ready on %v, want triad (0,1)", boards)
				}
			}
			r.checkJobHardware(machine, 1, 2, boards)
			var want []geometry.Board
			for _, z := range tc.failing {
				want = append(want, geometry.Board{X: 0, Y: 0, Z: z})
			}
			if got := r.outOfService(machine); !slices.Equal(got, want) {
				t.Errorf("out of service %v, want %v", got, want)
			}
			for z := range 3 {
				if h := r.holder(machine, geometry.Board{X: 0, Y: 0, Z: z}); h != nil {
					t.Errorf("board (0,0,%d) of the sick frame held by job %d", z, *h)
				}
			}
		})
	}
}

// TestManagerConfigFailureDestroysJob: when a job's boards fail (the BMP
// answers, with errors or wrong FPGA identities) and no other boards can
// hold it, it is destroyed with the configuration failure reason and holds
// no board. (JOB-09 with a BMP that does not answer at all is
// TestManagerJOB09UnreachableBMP.)
func TestManagerConfigFailureDestroysJob(t *testing.T) {
	tests := []struct {
		name  string
		g     testutil.Grid
		shape service.Shape
		fault func(r *rig)
	}{
		{"grid(1,1), the BMP fails every request", grid("m", 1, 1), service.Shape{Kind: service.ShapeOneBoard}, func(r *rig) {
			r.fake("m", 0, 0).AddRule(fakebmp.Rule{Action: fakebmp.Error(scp.RCCPU)})
		}},
		{"whole grid(1,2) without dead boards, one board's FPGA always wrong", grid("m", 1, 2), rect(1, 2), func(r *rig) {
			r.fake("m", 0, 1).SetFlag(2, 0, 1, 1000)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.g)
			tc.fault(r)
			r.start(fastBMP())
			noDead := 0
			id := r.createReq(service.CreateJobRequest{Owner: "me", Shape: tc.shape, MaxDeadBoards: &noDead})
			st := r.awaitState(id, service.StateDestroyed)
			if st.Reason == nil || *st.Reason != service.ReasonConfigFailed {
				t.Errorf("reason %v, want %q", st.Reason, service.ReasonConfigFailed)
			}
			for x := range tc.g.Width {
				for y := range tc.g.Height {
					for z := range 3 {
						if h := r.holder("m", geometry.Board{X: x, Y: y, Z: z}); h != nil {
							t.Errorf("board (%d,%d,%d) still held by job %d", x, y, z, *h)
						}
					}
				}
			}
		})
	}
}

// boardState is a board's state on the machine's board map.
func (r *rig) boardState(machine string, b geometry.Board) string {
	r.t.Helper()
	md, err := r.svc.MachineDetail(r.ctx, machine)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, bi := range md.Boards {
		if bi.Board == b {
			return bi.State()
		}
	}
	r.t.Fatalf("no board %v on %s", b, machine)
	return ""
}

// unreachable reports whether the service marks the BMP of frame
// (cabinet, frame) of a machine unreachable.
func (r *rig) unreachable(machine string, cabinet, frame int) bool {
	r.t.Helper()
	md, err := r.svc.MachineDetail(r.ctx, machine)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, b := range md.BMPs {
		if b.Cabinet == cabinet && b.Frame == frame {
			return b.Unreachable
		}
	}
	r.t.Fatalf("no BMP c%d f%d on %s", cabinet, frame, machine)
	return false
}

// TestManagerJOB09UnreachableBMP is JOB-09 on grid(1,1) with a BMP that
// stops answering: the BMP is marked unreachable, the job goes back to the
// queue and waits (the machine could hold it were the BMP there), no board
// is taken out of service, and when the BMP answers again the job is
// placed and becomes ready.
func TestManagerJOB09UnreachableBMP(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	srv := r.fake("m", 0, 0)
	r.start(shortBMP())
	srv.Await(r.ctx, func() bool { return srv.Count(scp.CmdVersion) > 0 }) // the start probe was answered
	srv.SetUnreachable(true)
	id := r.create(service.Shape{Kind: service.ShapeOneBoard})
	r.await("the BMP is marked unreachable and the job queued again", func() bool {
		return r.unreachable("m", 0, 0) && r.status(id).State == service.StateQueued
	})
	for z := range 3 {
		if s := r.boardState("m", geometry.Board{Z: z}); s == service.BoardOutOfService {
			t.Errorf("board (0,0,%d) taken out of service", z)
		}
	}

	srv.SetUnreachable(false)
	r.await("the BMP answers", func() bool { return !r.unreachable("m", 0, 0) })
	r.awaitState(id, service.StateReady)
	machine, got := r.jobBoards(id)
	r.checkJobHardware(machine, 1, 1, got)
	r.consistent()
}

// TestManagerBMPDownAtStart: a BMP that does not answer at start is marked
// unreachable; jobs go to the other BMP's boards and become ready, nothing
// is sent to the down BMP, and its boards are used once it answers.
func TestManagerBMPDownAtStart(t *testing.T) {
	r := newRig(t, grid("m", 1, 2))
	down := r.fake("m", 0, 0)
	down.SetUnreachable(true)
	r.start(shortBMP())
	r.await("frame 0's BMP is marked unreachable", func() bool { return r.unreachable("m", 0, 0) })
	ok := r.create(rect(1, 1))
	r.awaitState(ok, service.StateReady)
	if machine, boards := r.jobBoards(ok); boards[0].Y != 1 {
		t.Errorf("job on %s %v, want triad (0,1)", machine, boards)
	}
	back := r.create(board(0, 0, 0)) // waits for the BMP
	if st := r.status(back); st.State != service.StateQueued {
		t.Errorf("a job for a board of the down BMP is %v, want queued", st.State)
	}
	if n := down.Count(scp.CmdPower); n != 0 {
		t.Errorf("%d power packets sent to the down BMP", n)
	}

	down.SetUnreachable(false)
	r.await("frame 0's BMP is reachable", func() bool { return !r.unreachable("m", 0, 0) })
	r.awaitState(back, service.StateReady)
	machine, boards := r.jobBoards(back)
	r.checkJobHardware(machine, 1, 2, boards)
	if st := r.status(ok); st.State != service.StateReady {
		t.Errorf("job on the other BMP is %v", st.State)
	}
	r.consistent()
}

func (r *rig) consistent() {
	r.t.Helper()
	problems, err := r.svc.CheckConsistency(r.ctx)
	if err != nil || len(problems) > 0 {
		r.t.Errorf("consistency check: %v %v", problems, err)
	}
}

// TestManagerRestartMidPowerOn: the server stops while a power-on is
// unanswered; after a restart a new manager redoes it and the job becomes
// ready.
func TestManagerRestartMidPowerOn(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	srv := r.fake("m", 0, 0)
	srv.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Action: fakebmp.Drop()}) // the start probe is answered
	s := fastBMP()
	s.PowerOnTimeout = time.Minute
	r.start(s)
	id := r.create(rect(1, 1))
	srv.Await(r.ctx, func() bool { return srv.Count(scp.CmdPower) > 0 })
	r.stop()
	r.svc.Restart(t)
	srv.ClearFaults()
	r.start(fastBMP())
	r.awaitState(id, service.StateReady)
	machine, boards := r.jobBoards(id)
	r.checkJobHardware(machine, 1, 1, boards)
}

// TestManagerReconfigure: a machine added by a reload gets a worker after
// Sync; a machine removed with a job on it has its boards powered off.
func TestManagerReconfigure(t *testing.T) {
	r := newRig(t, grid("a", 1, 1))
	r.start(fastBMP())
	onA := r.create(rect(1, 1))
	r.awaitState(onA, service.StateReady)

	// Add machine b (BMP prefix 10.2 so addresses differ from a's).
	both := testutil.Grids(grid("a", 1, 1), grid("b", 1, 1))
	r.svc.Apply(t, both)
	r.addFakes()
	if err := r.mgr.Sync(r.ctx); err != nil {
		t.Fatal(err)
	}
	onB := r.create(rect(1, 1))
	st := r.awaitState(onB, service.StateReady)
	if machine, _ := r.jobBoards(onB); machine != "b" || !*st.Power {
		t.Errorf("second job on %s", machine)
	}
	if n := r.fake("b", 0, 0).Count(scp.CmdPower); n != 1 {
		t.Errorf("machine b's BMP got %d power packets, want 1", n)
	}

	// Remove a: its job is destroyed and its boards are switched off.
	aFake := r.fake("a", 0, 0)
	r.svc.Apply(t, testutil.GridTOML(testutil.Grid{Name: "b", Width: 1, Height: 1, BMPPrefix: "10.2", BoardPrefix: "12"}))
	if err := r.mgr.Sync(r.ctx); err != nil {
		t.Fatal(err)
	}
	st = r.awaitState(onA, service.StateDestroyed)
	if st.Reason == nil || *st.Reason != service.ReasonMachineRemoved {
		t.Errorf("reason %v", st.Reason)
	}
	aFake.Await(r.ctx, func() bool {
		return !aFake.Power(0) && !aFake.Power(1) && !aFake.Power(2)
	})
	if st := r.status(onB); st.State != service.StateReady {
		t.Errorf("job on b is %v after a's removal", st.State)
	}
}

// TestManagerRunTwice: a second Run while one runs is refused.
func TestManagerRunTwice(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	r.start(fastBMP())
	id := r.create(rect(1, 1))
	r.awaitState(id, service.StateReady) // the first Run is up
	if err := r.mgr.Run(r.ctx); err == nil {
		t.Error("a second Run was accepted")
	}
}
