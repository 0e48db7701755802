package bmp

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
)

// ErrClosed is returned by operations on a closed Client, including
// operations that were waiting when Close was called.
var ErrClosed = errors.New("bmp: client closed")

// TimeoutError means the BMP never answered: every attempt of an operation
// timed out. The BMP (or the network to it) is down or overloaded.
type TimeoutError struct {
	BMP        string        // BMP address
	Op         string        // e.g. "sver board 3"
	Attempts   int           // datagrams sent
	PerAttempt time.Duration // time waited after each send
	Err        error         // last send error, if sending failed
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("bmp %s: %s: no reply after %d attempt(s) of %v", e.BMP, e.Op, e.Attempts, e.PerAttempt)
	if e.Err != nil {
		msg += " (last send error: " + e.Err.Error() + ")"
	}
	return msg
}

// Timeout reports true, like net.Error.
func (e *TimeoutError) Timeout() bool { return true }

func (e *TimeoutError) Unwrap() error { return e.Err }

// ResultError means the BMP answered with a result code other than RC_OK
// (after any retries the code allows).
type ResultError struct {
	BMP      string
	Op       string
	Board    int // board the request addressed (0 for power commands)
	Code     scp.Result
	Attempts int
}

func (e *ResultError) Error() string {
	return fmt.Sprintf("bmp %s: %s: BMP answered %v (%#02x, %s)", e.BMP, e.Op, e.Code, uint16(e.Code), e.Code.Meaning())
}

// MalformedReplyError means the BMP answered RC_OK with a payload that does
// not fit the command (wrong length, unreadable version string).
type MalformedReplyError struct {
	BMP     string
	Op      string
	Board   int
	Payload []byte
	Err     error
}

func (e *MalformedReplyError) Error() string {
	return fmt.Sprintf("bmp %s: %s: malformed reply: %v", e.BMP, e.Op, e.Err)
}

func (e *MalformedReplyError) Unwrap() error { return e.Err }

// FPGAMismatchError means a board's FPGA reported the wrong identity in its
// FLAG register after power-on: its bitfile did not load properly.
type FPGAMismatchError struct {
	Board int
	FPGA  int
	Flag  uint32
}

func (e *FPGAMismatchError) Error() string {
	return fmt.Sprintf("board %d: FPGA %d reports id %d (FLAG 0x%08x)", e.Board, e.FPGA, e.Flag&scp.FlagIDMask, e.Flag)
}

// BoardsFailedError is returned by PowerOnAndCheck when some boards still
// failed their check after every round. The other boards are on and good.
type BoardsFailedError struct {
	BMP    string
	Rounds int
	Failed map[int]error // per board: *FPGAMismatchError, *ResultError or *MalformedReplyError
}

func (e *BoardsFailedError) Error() string {
	boards := slices.Sorted(maps.Keys(e.Failed))
	parts := make([]string, len(boards))
	for i, b := range boards {
		parts[i] = e.Failed[b].Error()
	}
	return fmt.Sprintf("bmp %s: %d board(s) failed the FPGA check after %d power-on(s): %s",
		e.BMP, len(boards), e.Rounds, strings.Join(parts, "; "))
}

// boardFault reports whether err blames one board rather than the BMP: the
// BMP answered, but with an error code or a bad payload. A time-out, a
// cancelled context or a closed client is not a board fault.
func boardFault(err error) bool {
	var re *ResultError
	var me *MalformedReplyError
	return errors.As(err, &re) || errors.As(err, &me)
}
