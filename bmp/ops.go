package bmp

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/geometry"
)

// VersionInfo is a BMP's answer to sver.
type VersionInfo = scp.VersionInfo

// Version asks board's BMP for its firmware version (sver).
func (c *Client) Version(ctx context.Context, board int) (VersionInfo, error) {
	op := fmt.Sprintf("sver board %d", board)
	req, err := scp.VersionRequest(board)
	if err != nil {
		return VersionInfo{}, fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	rep, err := c.do(ctx, op, req, c.opts.Default)
	if err != nil {
		return VersionInfo{}, err
	}
	return scp.ParseVersion(rep.Payload) // checked by the client: cannot fail
}

// Power switches boards of the frame on or off with one packet. Powering on
// a board that is already on resets it (its FPGAs reload, links re-enable).
func (c *Client) Power(ctx context.Context, on bool, boards []int) error {
	op := powerOp(on, boards)
	req, err := scp.PowerRequest(on, boards, 0)
	if err != nil {
		return fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	pol := c.opts.PowerOff
	if on {
		pol = c.opts.PowerOn
	}
	_, err = c.do(ctx, op, req, pol)
	return err
}

func powerOp(on bool, boards []int) string {
	dir := "off"
	if on {
		dir = "on"
	}
	return fmt.Sprintf("power %s boards %v", dir, boards)
}

// WriteFPGA writes one register of one FPGA of a board.
func (c *Client) WriteFPGA(ctx context.Context, board, fpga int, addr uint32, value uint32) error {
	op := fmt.Sprintf("write FPGA %d register %#x = %#x on board %d", fpga, addr, value, board)
	req, err := scp.FPGAWriteRequest(board, fpga, addr, value)
	if err != nil {
		return fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	_, err = c.do(ctx, op, req, c.opts.Default)
	return err
}

// ReadFPGA reads one register of one FPGA of a board.
func (c *Client) ReadFPGA(ctx context.Context, board, fpga int, addr uint32) (uint32, error) {
	op := fmt.Sprintf("read FPGA %d register %#x on board %d", fpga, addr, board)
	req, err := scp.FPGAReadRequest(board, fpga, addr)
	if err != nil {
		return 0, fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	rep, err := c.do(ctx, op, req, c.opts.Default)
	if err != nil {
		return 0, err
	}
	return scp.ParseFPGARead(rep.Payload) // checked by the client: cannot fail
}

// SetLink enables or disables (stops sending on) one link of a board by
// writing its FPGA STOP register (BMP-01). On BMP firmware older than 2.0
// nothing is written and the call succeeds, as in the original server.
func (c *Client) SetLink(ctx context.Context, board int, link geometry.Link, enable bool) error {
	return c.SetLinks(ctx, board, []geometry.Link{link}, enable)
}

// SetLinks is SetLink for several links of one board, with a single version
// check first.
func (c *Client) SetLinks(ctx context.Context, board int, links []geometry.Link, enable bool) error {
	for _, l := range links {
		if _, _, err := scp.StopRegister(l); err != nil {
			return fmt.Errorf("bmp %s: set links of board %d: %w", c.addr, board, err)
		}
	}
	v, err := c.Version(ctx, board)
	if err != nil || v.Major < 2 {
		return err
	}
	for _, l := range links {
		fpga, addr, _ := scp.StopRegister(l) // checked above
		if err := c.WriteFPGA(ctx, board, fpga, addr, scp.StopValue(enable)); err != nil {
			return err
		}
	}
	return nil
}

// CheckOptions tunes PowerOnAndCheck.
type CheckOptions struct {
	// Rounds is the number of power-on-and-check rounds, at least 1
	// (fpga_check_rounds).
	Rounds int
	// PostPowerOnWait is waited after each successful power-on before the
	// boards' FPGAs are read (post_power_on_delay: real boards need it;
	// zero, no wait, suits the fake BMP).
	PostPowerOnWait time.Duration
}

// PowerOnAndCheck powers boards on and checks that each board's three
// FPGAs loaded correctly (FLAG id bits equal the FPGA number), powering the
// boards that fail on again, for up to opts.Rounds rounds (docs/bmp.md,
// "What the server sends"). Boards whose
// firmware is older than 2.0 are not checked.
//
// Outcomes:
//   - failed == nil, err == nil: every board is on and good.
//   - failed != nil, err is a *BoardsFailedError with the same map: the
//     listed boards failed every round (the error says why, per board);
//     the others are on and good.
//   - failed == nil, err != nil: the attempt stopped (the BMP did not
//     answer the power-on or a check in time, ctx ended, or the client was
//     closed); the boards' state is unknown and the caller may retry the
//     whole request. A board answering with an error code is a board fault
//     instead, and is retried in the next round.
func (c *Client) PowerOnAndCheck(ctx context.Context, boards []int, opts CheckOptions) (failed map[int]error, err error) {
	if opts.Rounds < 1 {
		return nil, fmt.Errorf("bmp %s: power on and check: %d rounds; give at least 1", c.addr, opts.Rounds)
	}
	todo := slices.Compact(slices.Sorted(slices.Values(boards)))
	if len(todo) == 0 {
		return nil, fmt.Errorf("bmp %s: power on and check: no boards given", c.addr)
	}
	for round := 1; round <= opts.Rounds && len(todo) > 0; round++ {
		if err := c.Power(ctx, true, todo); err != nil {
			return nil, err
		}
		if err := c.pause(ctx, "wait after power on", opts.PostPowerOnWait); err != nil {
			return nil, err
		}
		failed = make(map[int]error)
		for _, b := range todo {
			berr, err := c.checkBoard(ctx, b)
			if err != nil {
				return nil, err
			}
			if berr != nil {
				failed[b] = berr
			}
		}
		todo = todo[:0]
		for b := range failed {
			todo = append(todo, b)
		}
		slices.Sort(todo)
	}
	if len(failed) == 0 {
		return nil, nil
	}
	return failed, &BoardsFailedError{BMP: c.addr, Rounds: opts.Rounds, Failed: failed}
}

// checkBoard verifies one board's FPGA identities. It returns the board's
// fault (nil if good or not checkable) or, separately, an error that stops
// the whole attempt.
func (c *Client) checkBoard(ctx context.Context, board int) (fault, err error) {
	v, err := c.Version(ctx, board)
	if err != nil {
		return splitFault(err)
	}
	if v.Major < 2 {
		return nil, nil // no FPGA identity check on old firmware
	}
	for fpga := range scp.NumFPGAs {
		flag, err := c.ReadFPGA(ctx, board, fpga, scp.FlagRegister)
		if err != nil {
			return splitFault(err)
		}
		if flag&scp.FlagIDMask != uint32(fpga) {
			return &FPGAMismatchError{Board: board, FPGA: fpga, Flag: flag}, nil
		}
	}
	return nil, nil
}

func splitFault(err error) (fault, fatal error) {
	if boardFault(err) {
		return err, nil
	}
	return nil, err
}
