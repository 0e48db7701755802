package bmp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/geometry"
)

var noWait = bmp.CheckOptions{Rounds: 3}

// powerMasks lists the board masks of the power-on packets the fake got.
func powerMasks(s *fakebmp.Server) []uint32 {
	var masks []uint32
	for _, r := range s.Requests(scp.CmdPower) {
		if r.Args[0]&0xFF == 1 {
			masks = append(masks, r.Args[1])
		}
	}
	return masks
}

// The happy path: one power packet, sver and three FLAG reads per board.
func TestPowerOnAndCheck(t *testing.T) {
	s, c := setup(t, fakebmp.Options{FlagBits: 0x3C}, patient)
	failed, err := c.PowerOnAndCheck(ctxT(t), []int{2, 0, 1, 2}, noWait)
	if err != nil || failed != nil {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	if m := powerMasks(s); !slices.Equal(m, []uint32{7}) {
		t.Errorf("power-on masks %#x, want [0x7]", m)
	}
	if s.Count(scp.CmdVersion) != 3 || s.Count(scp.CmdFPGARead) != 9 || s.Count(scp.CmdFPGAWrite) != 0 {
		t.Errorf("sver %d, FLAG reads %d, writes %d", s.Count(scp.CmdVersion), s.Count(scp.CmdFPGARead), s.Count(scp.CmdFPGAWrite))
	}
	for b := range 3 {
		if !s.Power(b) || s.PowerOns(b) != 1 {
			t.Errorf("board %d: on %v, power-ons %d", b, s.Power(b), s.PowerOns(b))
		}
	}
	if s.OffBoardAccesses() != 0 {
		t.Errorf("FPGA access to a board that was off")
	}
}

// Firmware 1.x gets no FLAG reads and no STOP writes, and succeeds.
func TestOldFirmware(t *testing.T) {
	s, c := setup(t, fakebmp.Options{Version: "1.3.0"}, patient)
	ctx := ctxT(t)
	if failed, err := c.PowerOnAndCheck(ctx, []int{0, 1, 2}, noWait); err != nil || failed != nil {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	if err := c.SetLinks(ctx, 1, []geometry.Link{geometry.North, geometry.East}, false); err != nil {
		t.Fatal(err)
	}
	if s.Count(scp.CmdFPGARead) != 0 || s.Count(scp.CmdFPGAWrite) != 0 {
		t.Errorf("FLAG reads %d, STOP writes %d; want none", s.Count(scp.CmdFPGARead), s.Count(scp.CmdFPGAWrite))
	}
	if s.Count(scp.CmdVersion) != 4 {
		t.Errorf("sver %d, want 4", s.Count(scp.CmdVersion))
	}
}

// Boards whose FPGAs show the wrong FLAG are powered on again, up to the
// round limit.
func TestFlagMismatchRounds(t *testing.T) {
	tests := []struct {
		name       string
		badRounds  int // power-ons for which board 1's FPGA 1 reads id 3
		wantMasks  []uint32
		wantFailed bool
	}{
		{"twice: re-powered alone, good on round 3", 2, []uint32{7, 2, 2}, false},
		{"three times: fails", 3, []uint32{7, 2, 2}, true},
		{"once", 1, []uint32{7, 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := setup(t, fakebmp.Options{}, patient)
			if err := s.SetFlag(1, 1, 3, tc.badRounds); err != nil {
				t.Fatal(err)
			}
			failed, err := c.PowerOnAndCheck(ctxT(t), []int{0, 1, 2}, noWait)
			if m := powerMasks(s); !slices.Equal(m, tc.wantMasks) {
				t.Errorf("power-on masks %#x, want %#x", m, tc.wantMasks)
			}
			if s.PowerOns(0) != 1 || s.PowerOns(2) != 1 {
				t.Errorf("good boards powered %d and %d times", s.PowerOns(0), s.PowerOns(2))
			}
			if !tc.wantFailed {
				if err != nil || failed != nil {
					t.Fatalf("failed %v, err %v", failed, err)
				}
				return
			}
			var bf *bmp.BoardsFailedError
			if !errors.As(err, &bf) || len(failed) != 1 || bf.Rounds != 3 {
				t.Fatalf("failed %v, err %v", failed, err)
			}
			var fm *bmp.FPGAMismatchError
			if !errors.As(failed[1], &fm) || fm.Board != 1 || fm.FPGA != 1 || fm.Flag != 3 {
				t.Fatalf("board 1: %v", failed[1])
			}
			if !strings.Contains(err.Error(), "board 1: FPGA 1 reports id 3") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// A board whose BMP answers with an error code is a board fault: it is
// re-powered and reported, the others succeed.
func TestBoardFault(t *testing.T) {
	s, c := setup(t, fakebmp.Options{}, patient)
	s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdVersion}, Boards: []int{2}, Action: fakebmp.Error(scp.RCRoute)})
	failed, err := c.PowerOnAndCheck(ctxT(t), []int{0, 1, 2}, noWait)
	var re *bmp.ResultError
	if len(failed) != 1 || !errors.As(failed[2], &re) || re.Code != scp.RCRoute {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	if m := powerMasks(s); !slices.Equal(m, []uint32{7, 4, 4}) {
		t.Errorf("power-on masks %#x", m)
	}
}

// The BMP not answering stops the attempt: no per-board verdict.
func TestCheckAborts(t *testing.T) {
	t.Run("power-on dropped, then retried as a whole", func(t *testing.T) {
		s, c := setup(t, fakebmp.Options{}, fast)
		again := dial(t, s.Addr(), patient)
		s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Power: fakebmp.PowerOn, Count: 1, Action: fakebmp.Drop()})
		failed, err := c.PowerOnAndCheck(ctxT(t), []int{0, 1}, noWait)
		var te *bmp.TimeoutError
		if failed != nil || !errors.As(err, &te) || te.Attempts != 1 {
			t.Fatalf("failed %v, err %v", failed, err)
		}
		if failed, err := again.PowerOnAndCheck(ctxT(t), []int{0, 1}, noWait); err != nil || failed != nil {
			t.Fatalf("second attempt: failed %v, err %v", failed, err)
		}
	})
	t.Run("FLAG read times out", func(t *testing.T) {
		opts := fast
		opts.PowerOn = patient.PowerOn
		s, c := setup(t, fakebmp.Options{}, opts)
		s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdFPGARead}, Boards: []int{1}, Action: fakebmp.Drop()})
		failed, err := c.PowerOnAndCheck(ctxT(t), []int{0, 1}, noWait)
		var te *bmp.TimeoutError
		if failed != nil || !errors.As(err, &te) {
			t.Fatalf("failed %v, err %v", failed, err)
		}
		if m := powerMasks(s); len(m) != 1 {
			t.Errorf("power-on masks %#x: a time-out must not re-power", m)
		}
	})
	t.Run("cancelled during the post-power-on wait", func(t *testing.T) {
		s, c := setup(t, fakebmp.Options{}, patient)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.PowerOnAndCheck(ctx, []int{0}, bmp.CheckOptions{Rounds: 1, PostPowerOnWait: time.Hour})
			done <- err
		}()
		if err := s.Await(ctxT(t), func() bool { return s.Power(0) }); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if s.Count(scp.CmdVersion) != 0 {
			t.Errorf("checked before the wait was over")
		}
	})
	t.Run("no boards", func(t *testing.T) {
		_, c := setup(t, fakebmp.Options{}, patient)
		if _, err := c.PowerOnAndCheck(ctxT(t), nil, noWait); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("no rounds: no default of its own, fpga_check_rounds gives them", func(t *testing.T) {
		s, c := setup(t, fakebmp.Options{}, patient)
		if _, err := c.PowerOnAndCheck(ctxT(t), []int{0}, bmp.CheckOptions{}); err == nil || !strings.Contains(err.Error(), "0 rounds") {
			t.Fatalf("err %v, want one naming 0 rounds", err)
		}
		if s.Count(scp.CmdPower) != 0 {
			t.Errorf("powered boards without a number of rounds")
		}
	})
}

// RC_ARG to a STOP write: immediate failure.
func TestSetLinkError(t *testing.T) {
	s, c := setup(t, fakebmp.Options{}, patient)
	ctx := ctxT(t)
	if err := c.Power(ctx, true, []int{3}); err != nil {
		t.Fatal(err)
	}
	s.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdFPGAWrite}, Action: fakebmp.Error(scp.RCArg)})
	err := c.SetLinks(ctx, 3, []geometry.Link{geometry.North, geometry.South}, false)
	var re *bmp.ResultError
	if !errors.As(err, &re) || re.Code != scp.RCArg || s.Count(scp.CmdFPGAWrite) != 1 {
		t.Fatalf("err %v, writes %d", err, s.Count(scp.CmdFPGAWrite))
	}
}
