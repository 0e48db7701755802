package allocator

import (
	"errors"
	"fmt"
	"math"

	"github.com/spalloc/spallocd/service/geometry"
)

// Kind is the positional form of create_job.
type Kind int

const (
	// OneBoard: create_job() or create_job(1) — one board anywhere.
	OneBoard Kind = iota
	// NBoards: create_job(n), n >= 2 — at least n boards as a block of
	// ceil(n/3) or more triads (n = 1 behaves as OneBoard).
	NBoards
	// Rect: create_job(w, h) — a block of exactly w × h triads.
	Rect
	// SpecificBoard: create_job(x, y, z) — that board.
	SpecificBoard
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case OneBoard:
		return "one-board"
	case NBoards:
		return "n-boards"
	case Rect:
		return "rect"
	case SpecificBoard:
		return "specific-board"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Unlimited is the MaxDeadBoards / MaxDeadLinks value for "not given"
// (JSON null).
const Unlimited = -1

// Request is one create_job request, as far as placement is concerned.
// Machine/tag selection, owner and keepalive belong to the service.
//
// Build it with the constructors (OneBoardRequest, NBoardsRequest,
// RectRequest, SpecificBoardRequest), which set both dead limits to
// Unlimited; the zero value means "no dead boards or links allowed".
type Request struct {
	Kind  Kind
	N     int            // NBoards: boards wanted
	W, H  int            // Rect: size in triads
	Board geometry.Board // SpecificBoard
	// MinRatio is min(w,h)/max(w,h) the block must reach (NBoards only;
	// values above 1 mean their reciprocal; ignored by other kinds).
	MinRatio float64
	// MaxDeadBoards: missing boards allowed (against N for NBoards, against
	// 3·W·H for Rect); Unlimited = any, as long as the bottom-left works.
	MaxDeadBoards int
	// MaxDeadLinks: dead links allowed between boards of the allocation
	// (wrap-around ones only counted with RequireTorus); Unlimited = any.
	MaxDeadLinks int
	// RequireTorus: only the whole machine, with wrap-around links.
	RequireTorus bool
}

// OneBoardRequest is create_job().
func OneBoardRequest() Request {
	return Request{Kind: OneBoard, MaxDeadBoards: Unlimited, MaxDeadLinks: Unlimited}
}

// NBoardsRequest is create_job(n).
func NBoardsRequest(n int) Request {
	return Request{Kind: NBoards, N: n, MaxDeadBoards: Unlimited, MaxDeadLinks: Unlimited}
}

// RectRequest is create_job(w, h).
func RectRequest(w, h int) Request {
	return Request{Kind: Rect, W: w, H: h, MaxDeadBoards: Unlimited, MaxDeadLinks: Unlimited}
}

// SpecificBoardRequest is create_job(x, y, z).
func SpecificBoardRequest(b geometry.Board) Request {
	return Request{Kind: SpecificBoard, Board: b, MaxDeadBoards: Unlimited, MaxDeadLinks: Unlimited}
}

// The exact messages users see, the original's (AR-04, ALLOC-13, PROTO-11).
var (
	ErrNonPositiveSize   = errors.New("Cannot get negative- or zero-sized allocations.")
	ErrNegativeRatio     = errors.New("Aspect ratio cannot be negative.")
	ErrTorusSingleBoard  = errors.New("require_torus must be False when allocating boards.")
	ErrNegativeDeadBoard = errors.New("max_dead_boards cannot be negative.")
	ErrNegativeDeadLink  = errors.New("max_dead_links cannot be negative.")
)

// single reports whether r is one of the single-board forms.
func (r Request) single() bool {
	return r.Kind == OneBoard || r.Kind == SpecificBoard || (r.Kind == NBoards && r.N == 1)
}

// ValidateRequest checks the values of a request before any job exists. Its
// errors carry the messages users must see. Requests that are well formed
// but cannot fit (a specific board outside the machine, a block larger than
// the machine) are not errors: Feasible answers those per machine.
//
// The service maps JSON null limits to Unlimited and must reject negative
// limits sent by a client before that mapping (values below Unlimited are
// rejected here).
func ValidateRequest(r Request) error {
	switch r.Kind {
	case OneBoard, SpecificBoard:
	case NBoards:
		if r.N <= 0 {
			return ErrNonPositiveSize
		}
	case Rect:
		if r.W <= 0 || r.H <= 0 {
			return ErrNonPositiveSize
		}
	default:
		return fmt.Errorf("unknown request kind %d", int(r.Kind))
	}
	if r.RequireTorus && r.single() {
		return ErrTorusSingleBoard
	}
	if math.IsNaN(r.MinRatio) {
		return errors.New("Aspect ratio must be a number.")
	}
	if r.MinRatio < 0 {
		return ErrNegativeRatio
	}
	if r.MaxDeadBoards < Unlimited {
		return ErrNegativeDeadBoard
	}
	if r.MaxDeadLinks < Unlimited {
		return ErrNegativeDeadLink
	}
	return nil
}

// triads is the block area an NBoards request needs: ceil(n/3).
func (r Request) triads() int { return (r.N + 2) / 3 }

// ratio returns MinRatio folded into [0, 1] (a ratio above 1 means its
// reciprocal, AR-11).
func (r Request) ratio() float64 {
	if r.MinRatio > 1 {
		return 1 / r.MinRatio
	}
	if r.MinRatio < 0 || math.IsNaN(r.MinRatio) {
		return 0
	}
	return r.MinRatio
}
