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

// TimeoutError means the BMP did not answer: every attempt of an operation
// timed out without a usable reply. Replies that came too late, or that
// could not be read (cut short, garbled: see Client), count as no reply.
// It is a fault of the link to the BMP (or of the BMP as a whole), never of
// a board.
type TimeoutError struct {
	BMP        string        // BMP address
	Op         string        // e.g. "sver board 3"
	Attempts   int           // datagrams sent
	PerAttempt time.Duration // time waited after each send
	Damaged    int           // replies ignored because they could not be read
	Err        error         // last send error, if sending failed
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("bmp %s: %s: no reply after %d attempt(s) of %v", e.BMP, e.Op, e.Attempts, e.PerAttempt)
	if e.Damaged > 0 {
		msg += fmt.Sprintf(" (%d unreadable repl%s ignored)", e.Damaged, plural(e.Damaged, "y", "ies"))
	}
	if e.Err != nil {
		msg += " (last send error: " + e.Err.Error() + ")"
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Timeout reports true, like net.Error.
func (e *TimeoutError) Timeout() bool { return true }

func (e *TimeoutError) Unwrap() error { return e.Err }

// ResultError means the BMP answered with a result code other than RC_OK
// (after any retries the code allows): an explicit answer about the board
// the request addressed.
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
	Failed map[int]error // per board: *FPGAMismatchError or *ResultError
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

// boardFault reports whether err is an answer about a board rather than a
// fault of the link to the BMP: the BMP answered, with an error code. A
// time-out, a cancelled context or a closed client is not a board fault.
func boardFault(err error) bool {
	var re *ResultError
	return errors.As(err, &re)
}
