package service

// This file is the contract between the service and its transports
// (tcpserver, httpapi, bmp workers, cmd/spallocd, the trace replay). Keep
// the names and meanings stable; add rather than rename.

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// JobState is a job's state, with the integers of the v1 protocol.
type JobState int

const (
	StateUnknown   JobState = 0
	StateQueued    JobState = 1
	StatePower     JobState = 2
	StateReady     JobState = 3
	StateDestroyed JobState = 4
)

func (s JobState) String() string {
	switch s {
	case StateQueued:
		return "queued"
	case StatePower:
		return "power"
	case StateReady:
		return "ready"
	case StateDestroyed:
		return "destroyed"
	default:
		return "unknown"
	}
}

// Destroy reasons the server gives by itself (spec §3).
const (
	ReasonNoMachines     = "No suitable machines available."
	ReasonTimedOut       = "Job timed out."
	ReasonMachineRemoved = "Machine removed."
	ReasonConfigFailed   = "Machine configuration failed, please try again later."
	CancelledPrefix      = "Cancelled: "
	DefaultKeepaliveSecs = 60.0
	DefaultTag           = "default"
)

// ShapeKind is the positional form of create_job.
type ShapeKind int

const (
	ShapeOneBoard ShapeKind = iota // create_job() or create_job(1)
	ShapeNBoards                   // create_job(n), n >= 2: at least n boards
	ShapeRect                      // create_job(w, h): w x h triads
	ShapeBoard                     // create_job(x, y, z): that board
)

// Shape is a parsed positional form.
type Shape struct {
	Kind    ShapeKind
	N       int // ShapeNBoards
	W, H    int // ShapeRect
	X, Y, Z int // ShapeBoard
}

// CreateJobRequest is create_job after the transport parsed its arguments.
// Validation of values (sizes, ratio, owner, machine+tags, require_torus with
// single-board forms) is the service's: it returns KindInvalid errors with
// the exact messages of behaviour-cases.md.
type CreateJobRequest struct {
	Owner         string
	Keepalive     *float64        // seconds; nil = never time out (the transport applies the 60 s default when absent)
	Args          json.RawMessage // positional arguments exactly as sent (list_jobs "args")
	Kwargs        json.RawMessage // keyword arguments as sent, without owner and keepalive (list_jobs "kwargs")
	Shape         Shape
	Machine       *string  // nil = not given
	Tags          []string // nil = not given (then ["default"] unless Machine is given)
	MinRatio      float64
	MaxDeadBoards *int // nil = unlimited
	MaxDeadLinks  *int // nil = unlimited
	RequireTorus  bool
	Host          string // client address, recorded as keepalivehost
}

// JobStatus is get_job_state. Pointer fields are JSON null when nil.
type JobStatus struct {
	State         JobState
	Power         *bool
	Keepalive     *float64
	Reason        *string
	StartTime     *float64 // Unix seconds
	KeepaliveHost *string
}

// Connection is one entry of get_job_machine_info "connections".
type Connection struct {
	ChipX, ChipY int
	Hostname     string
}

// JobMachineInfo is get_job_machine_info for a job that holds boards.
type JobMachineInfo struct {
	Width, Height int // chips
	Connections   []Connection
	MachineName   string
	Boards        []geometry.Board
}

// JobSummary is one list_jobs entry.
type JobSummary struct {
	ID            int64
	Owner         string
	StartTime     float64
	Keepalive     *float64
	State         JobState
	Power         *bool
	Args          json.RawMessage
	Kwargs        json.RawMessage
	MachineName   *string
	Boards        []geometry.Board // nil until allocated
	KeepaliveHost string           // "" when unknown
}

// DeadLink is a dead link leaving Board in direction Link.
type DeadLink struct {
	Board geometry.Board
	Link  geometry.Link
}

// MachineSummary is one list_machines entry.
type MachineSummary struct {
	Name          string
	Tags          []string
	Width, Height int // triads
	DeadBoards    []geometry.Board
	DeadLinks     []DeadLink
}

// Physical is a board's slot: cabinet, frame, board.
type Physical struct {
	Cabinet, Frame, Board int
}

// WhereIsQuery selects one of the four where_is forms: Machine with exactly
// one of Board, Physical, Chip; or JobID with Chip.
type WhereIsQuery struct {
	Machine  string
	Board    *geometry.Board
	Physical *Physical
	Chip     *[2]int
	JobID    *int64
	Host     string // for the job form: counts as a keepalive
}

// WhereIsResult is a where_is answer.
type WhereIsResult struct {
	Machine   string
	Logical   geometry.Board
	Physical  Physical
	Chip      [2]int
	BoardChip [2]int
	JobID     *int64
	JobChip   *[2]int
}

// ProblemReport is report_problem.
type ProblemReport struct {
	IP          string
	ChipX       *int
	ChipY       *int
	Core        *int
	Description string
	Host        string
}

// Change is what one committed operation changed, for subscribers of the
// change feed: TCP notifications, dashboard updates, BMP worker wake-ups.
type Change struct {
	Jobs     []int64
	Machines []string
	BMPs     []int64 // BMPs that have new operations to claim
	// Ended lists the jobs of Jobs that were destroyed: they never change
	// again (and ids are never reused), so subscribers may forget them.
	Ended []int64
}

// ReloadReport says what applying a configuration did, per machine name.
type ReloadReport struct {
	Added, Unchanged, Minor, Major, Removed []string
}

// BMPEndpoint is one BMP a worker serves.
type BMPEndpoint struct {
	ID             int64
	Machine        string
	Cabinet, Frame int
	Address        string // "ip" or "ip:port" as configured
}

// OpKind is what a pending BMP operation does.
type OpKind string

const (
	OpPowerOn  OpKind = "power_on"
	OpPowerOff OpKind = "power_off"
	OpLinkOff  OpKind = "link_off" // disable (STOP = 1)
	OpLinkOn   OpKind = "link_on"
)

// BMPOp is one pending operation claimed by a worker. A link operation
// switches every link of Links on its board (one operation per board: the
// periphery of an allocation takes one per board, not one per link).
type BMPOp struct {
	ID       int64
	BMPID    int64
	Board    geometry.Board
	BoardNum int // board number in its frame (the BMP's board id)
	JobID    *int64
	Kind     OpKind
	Link     geometry.Link   // link operations: Links[0], for workers that read one link
	Links    []geometry.Link // link operations: the links to switch, ascending
}

// OpResult is a worker's outcome for one operation; Err nil means done.
//
// A failed operation is blamed on its board (the board is taken out of
// service, spec §3) unless BMPDown is set: then the BMP itself did not
// answer (every attempt timed out and a probe went unanswered too, or its
// address cannot be used), so the BMP is marked unreachable instead and
// the board stays in service, unavailable until the BMP answers again
// (spec §6; see SetBMPReachable). Either way a job waiting for the
// operation goes back to the queue, or is destroyed when nothing can hold
// it.
type OpResult struct {
	OpID    int64
	Err     error
	BMPDown bool // with Err: the BMP did not answer; the board is not at fault
}

// Clock is the service's one source of time, injected so that tests and the
// trace replay never sleep.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Options configure Open.
type Options struct {
	DBPath          string
	Synchronous     string // "NORMAL" (default) or "FULL"
	ColdStart       bool   // forget everything in the database
	Clock           Clock  // default SystemClock
	Logger          *slog.Logger
	FreeDelay       time.Duration // extra wait after a confirmed power-off before boards are reused
	PowerOffGrace   time.Duration // free boards anyway when a power-off has not completed by then (0 = never)
	RetainDestroyed int           // destroyed jobs kept answerable; 0 = all, negative = none
	TickInterval    time.Duration // how often Run does timed work (keepalive_check_interval); default 5s
}
