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

// Destroy reasons the server gives by itself (docs/protocol.md, "Jobs").
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
// Validation of values (sizes, ratio, owner, keepalive, machine+tags,
// require_torus with single-board forms) is the service's: it returns
// KindInvalid errors naming what is wrong, and creates nothing.
type CreateJobRequest struct {
	Owner         string          // 1 to MaxOwnerBytes bytes
	Keepalive     *float64        // seconds as sent, 0 to MaxKeepalive; nil = never time out (the transport applies the 60 s default when absent)
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
	Keepalive     *time.Duration
	Reason        *string
	StartTime     *time.Time
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
	StartTime     time.Time
	Keepalive     *time.Duration
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
	Drained       *Drain // nil: it takes allocations (list_machines does not show it)
	// Absent lists the slots among DeadBoards that the machine does not
	// have: the two empty slots of a single-board machine. The v1 protocol
	// lists them as dead boards, as the original did; operator views leave
	// them out (see machine.absent).
	Absent []geometry.Board
	// Reservation is the region the blocked head of the machine's queue
	// holds under the reserve policy; nil: none. Not part of the v1
	// protocol's list_machines.
	Reservation *Reservation
}

// Reservation is a region of triads that only its job may enter: the
// job is the head of the machine's queue and cannot be placed now.
type Reservation struct {
	Job           int64
	X, Y          int // bottom-left triad
	Width, Height int // triads
	Since         time.Time
}

// Physical is a board's slot: cabinet, frame, board.
type Physical struct {
	Cabinet, Frame, Board int
}

// WhereIsQuery is where_is as given: the keyword arguments the transport
// parsed (nil = not given). The service accepts exactly one of four forms:
// Machine with X, Y, Z (a logical board); Machine with Cabinet, Frame,
// Board (a physical slot); Machine with ChipX, ChipY (a chip of the
// machine); JobID with ChipX, ChipY (a chip relative to a job). Anything
// else, Unknown keywords included, is KindInvalid.
type WhereIsQuery struct {
	Machine               *string
	X, Y, Z               *int
	Cabinet, Frame, Board *int
	ChipX, ChipY          *int
	JobID                 *int64
	Unknown               []string // names of other keyword arguments given
	Host                  string   // for the job form: counts as a keepalive
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
// change feed: TCP notifications, dashboard updates, BMP worker wake-ups,
// metrics. A subscriber that takes changes late gets them merged.
type Change struct {
	Jobs     []int64
	Machines []string
	BMPs     []int64 // BMPs that have operations to claim
	// Ended lists the jobs of Jobs that were destroyed: they never change
	// again (and ids are never reused), so subscribers may forget them.
	Ended []int64
	// Allocations lists the jobs given boards, in the order they were
	// (merged changes keep every one, up to a bound).
	Allocations []Allocation
}

// Allocation is a job given boards, with how long it had been queued (since
// it was created, or re-queued after its boards failed).
type Allocation struct {
	Job     int64
	Machine string
	Wait    time.Duration
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
	Links    []geometry.Link // link operations: the links to switch, ascending
	// LeaseUntil is when the claim lapses: a worker that has not reported
	// or released the operation by then may find it handed out again.
	LeaseUntil time.Time
}

// OpResult is a worker's outcome for one operation; Err nil means done.
//
// A failed operation is blamed on its board (the board is taken out of
// service) unless BMPDown is set: then the BMP itself did not answer (every
// attempt timed out and a probe went unanswered too, or its address cannot
// be used), so the BMP is marked unreachable instead and the board stays in
// service, unavailable until the BMP answers again (see SetBMPReachable).
// Either way a job waiting for the operation goes back to the queue, or is
// destroyed when nothing can hold it.
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

// Options configure Open. The server settings (free delay, power-off grace,
// retention, BMP time-outs) come with the configuration (ApplyConfig).
type Options struct {
	DBPath       string
	Synchronous  string        // "NORMAL" (default) or "FULL"
	Clock        Clock         // default SystemClock
	Logger       *slog.Logger  // default slog.Default()
	TickInterval time.Duration // how often Run does timed work (keepalive_check_interval); Run needs it
}
