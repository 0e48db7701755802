package bmp_test

import (
	"slices"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// These tests put a UDP proxy (internal/udpproxy) between the real BMP
// workers and a fake BMP, in front of a real service on a SQLite file, and
// check the rule of the README's board states: a sick link to a BMP (lost,
// late, truncated or garbled replies) never takes a board out of service;
// its boards are bmp_unreachable while the BMP does not answer and come
// back by themselves; only an explicit error about a board blames that
// board.

// lossyBMP are shortBMP with the default packet retries (3) and one
// resend of power commands (safe: a power command may be repeated).
func lossyBMP() config.BMPSettings {
	s := shortBMP()
	s.Retries, s.PowerOnRetries, s.PowerOffRetries = 3, 0, 0
	return s
}

func oneBoard() service.Shape { return service.Shape{Kind: service.ShapeOneBoard} }

// noBoardOutOfService fails the test for every board of the machine that
// is out of service.
func (r *rig) noBoardOutOfService(machine string) {
	r.t.Helper()
	md, err := r.svc.MachineDetail(r.ctx, machine)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, b := range md.Boards {
		if b.State() == service.BoardOutOfService {
			r.t.Errorf("board %v is out of service: %v", b.Board, *b.OutOfService)
		}
	}
}

// frame0In reports whether every board of frame 0 (triad (0,0)) of a machine
// is in one of the states.
func (r *rig) frame0In(machine string, states ...string) bool {
	r.t.Helper()
	for z := range 3 {
		if !slices.Contains(states, r.boardState(machine, geometry.Board{Z: z})) {
			return false
		}
	}
	return true
}

// TestLinkLossJobsBecomeReady: with 30% of the datagrams lost both ways,
// jobs become ready and their boards are switched off after them, and no
// board is taken out of service.
func TestLinkLossJobsBecomeReady(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	p := r.proxy("m", 0, 0)
	if err := p.SetFault(udpproxy.Both, udpproxy.Fault{Drop: 0.3}); err != nil {
		t.Fatal(err)
	}
	r.start(lossyBMP())
	var ids []int64
	for range 3 {
		ids = append(ids, r.create(oneBoard()))
	}
	for _, id := range ids {
		r.awaitWithin(time.Minute, "every job is ready", func() bool { return r.status(id).State == service.StateReady })
	}
	r.noBoardOutOfService("m")
	for _, id := range ids {
		machine, boards := r.jobBoards(id)
		r.checkJobHardware(machine, 1, 1, boards)
		if err := r.svc.DestroyJob(r.ctx, id, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	r.awaitWithin(time.Minute, "every board is off and free", func() bool {
		return r.poweredBoards() == 0 && r.frame0In("m", service.BoardFree)
	})
	r.noBoardOutOfService("m")
	if st := p.Stats(); st.Requests.Dropped == 0 || st.Replies.Dropped == 0 {
		t.Errorf("the proxy dropped nothing: %+v", st)
	}
	r.consistent()
}

// TestLinkFaultsMakeBoardsUnreachableUntilHealed: replies that come too
// late, or cut short, make the BMP unreachable (its boards
// bmp_unreachable, or waiting for a power-off that could not be sent),
// never out of service; the job goes to the other frame; once the link
// heals the boards are free again without anyone's help.
func TestLinkFaultsMakeBoardsUnreachableUntilHealed(t *testing.T) {
	tests := []struct {
		name  string
		fault udpproxy.Fault
	}{
		{"replies delayed beyond the time-out, within the power-on time-out", udpproxy.Fault{Delay: 250 * time.Millisecond}},
		{"replies delayed beyond every time-out", udpproxy.Fault{Delay: 800 * time.Millisecond}},
		{"replies cut to 12 bytes, before the sequence number ends", udpproxy.Fault{Truncate: 12}},
		{"replies cut to 14 bytes, without their payload", udpproxy.Fault{Truncate: 14}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, grid("m", 1, 2))
			sick := r.fake("m", 0, 0)
			p := r.proxy("m", 0, 0)
			r.start(shortBMP())
			warm := r.create(board(0, 0, 0)) // frame 0's worker is up and served
			r.awaitState(warm, service.StateReady)
			if err := r.svc.DestroyJob(r.ctx, warm, nil, ""); err != nil {
				t.Fatal(err)
			}
			r.await("frame 0's boards are free", func() bool { return r.frame0In("m", service.BoardFree) })
			if err := p.SetFault(udpproxy.Replies, tc.fault); err != nil {
				t.Fatal(err)
			}

			id := r.create(oneBoard())
			r.awaitWithin(30*time.Second, "the job is ready", func() bool { return r.status(id).State == service.StateReady })
			if sick.Count(scp.CmdPower) == 0 {
				t.Fatal("the job never went to frame 0: the test proves nothing")
			}
			if _, boards := r.jobBoards(id); boards[0].Y != 1 {
				t.Errorf("job ready on %v, want frame 1's triad (0,1)", boards)
			}
			if !r.unreachable("m", 0, 0) {
				t.Error("frame 0's BMP is not marked unreachable")
			}
			if !r.frame0In("m", service.BoardUnreachable, service.BoardWaiting) {
				t.Errorf("frame 0's boards are %s %s %s, want bmp_unreachable (or waiting for a power-off)",
					r.boardState("m", geometry.Board{Z: 0}), r.boardState("m", geometry.Board{Z: 1}), r.boardState("m", geometry.Board{Z: 2}))
			}
			r.noBoardOutOfService("m")

			p.Heal()
			healed := time.Now()
			r.await("frame 0's boards are free again", func() bool { return r.frame0In("m", service.BoardFree) })
			t.Logf("boards free %v after the link healed (probe interval 20ms)", time.Since(healed).Round(time.Millisecond))
			back := r.create(board(0, 0, 1))
			r.awaitState(back, service.StateReady)
			machine, boards := r.jobBoards(back)
			r.checkJobHardware(machine, 1, 2, boards)
			r.noBoardOutOfService("m")
			r.consistent()
		})
	}
}

// TestLinkGarbledRepliesBlameNoBoard: every reply has one byte changed.
// Replies whose header or payload became unreadable are ignored like lost
// ones, so jobs become ready and no board is blamed.
func TestLinkGarbledRepliesBlameNoBoard(t *testing.T) {
	r := newRig(t, grid("m", 1, 1))
	p := r.proxy("m", 0, 0)
	if err := p.SetFault(udpproxy.Replies, udpproxy.Fault{Garble: 1}); err != nil {
		t.Fatal(err)
	}
	r.start(lossyBMP())
	id := r.create(rect(1, 1))
	r.awaitWithin(time.Minute, "the job is ready", func() bool { return r.status(id).State == service.StateReady })
	r.noBoardOutOfService("m")
	machine, boards := r.jobBoards(id)
	r.checkJobHardware(machine, 1, 1, boards)
	p.Heal()
	r.consistent()
}

// TestBoardErrorBlamesOnlyThatBoard: a BMP that answers with an error code
// for one board (here RC_ROUTE to the checks of board 1: not on the CAN
// bus) takes that board alone out of service; the BMP stays reachable and
// the job is ready on the other frame.
func TestBoardErrorBlamesOnlyThatBoard(t *testing.T) {
	r := newRig(t, grid("m", 1, 2))
	sick := r.fake("m", 0, 0)
	sick.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdVersion, scp.CmdFPGARead}, Boards: []int{1}, Action: fakebmp.Error(scp.RCRoute)})
	r.start(shortBMP())
	id := r.create(rect(1, 1))
	r.awaitState(id, service.StateReady)
	if sick.Count(scp.CmdPower) == 0 {
		t.Fatal("the job never went to frame 0: the test proves nothing")
	}
	if got, want := r.outOfService("m"), []geometry.Board{{X: 0, Y: 0, Z: 1}}; !slices.Equal(got, want) {
		t.Errorf("out of service %v, want %v", got, want)
	}
	if r.unreachable("m", 0, 0) {
		t.Error("frame 0's BMP, which answers, is marked unreachable")
	}
	r.await("the other boards of frame 0 are free", func() bool {
		return r.boardState("m", geometry.Board{Z: 0}) == service.BoardFree && r.boardState("m", geometry.Board{Z: 2}) == service.BoardFree
	})
	r.consistent()
}
