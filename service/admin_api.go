package service

// Operator-facing types and operations (HTTP admin API, dashboard,
// metrics). The contract for httpapi; implementations live in admin*.go.

import (
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// BoardInfo is one board of a machine's board map.
type BoardInfo struct {
	Board          geometry.Board
	Physical       *Physical // nil for a dead board without a position
	IP             string
	Dead           bool    // dead in the configuration
	OutOfService   *string // why, when taken out of service
	OutOfServiceAt *time.Time
	OutOfServiceBy *string // the admin token's name, or ServerActor; nil for a BMP failure
	Power          bool    // last state confirmed by the BMP
	PowerChangedAt *time.Time
	JobID          *int64 // job holding it
	WaitingJobID   *int64 // ended job whose power-off is pending
	PendingOps     int    // open BMP operations on this board
	LastError      *string
	Reports        int  // problem reports filed against it
	BMPUnreachable bool // its BMP is marked unreachable
}

// Board states of the board map and of the board gauges: every board is in
// exactly one.
const (
	BoardFree         = "free"
	BoardJob          = "job"             // held by a live job
	BoardWaiting      = "waiting"         // let go by a job, power-off not yet confirmed
	BoardPowering     = "powering"        // BMP operations pending without a job (maintenance)
	BoardOutOfService = "out_of_service"  // taken out of service (operator or BMP failure)
	BoardUnreachable  = "bmp_unreachable" // in service, but its BMP does not answer: unavailable
	BoardDead         = "dead"            // dead in the configuration
)

// State is the board's one state on the board map: a dead board is dead,
// a held board belongs to its job even when it was taken out of service
// meanwhile, and so on in the order of the constants.
func (b BoardInfo) State() string {
	switch {
	case b.Dead:
		return BoardDead
	case b.JobID != nil:
		return BoardJob
	case b.WaitingJobID != nil:
		return BoardWaiting
	case b.OutOfService != nil:
		return BoardOutOfService
	case b.BMPUnreachable:
		return BoardUnreachable
	case b.PendingOps > 0:
		return BoardPowering
	default:
		return BoardFree
	}
}

// MachineDetail is a machine with its full board map.
type MachineDetail struct {
	MachineSummary
	Priority int
	BMPs     []BMPState
	Boards   []BoardInfo
	QueueLen int // jobs queued on this machine
}

// BMPState is a BMP of a machine with what the service knows of its
// reachability.
type BMPState struct {
	BMPEndpoint
	Unreachable      bool
	UnreachableSince *time.Time // with Unreachable: when it stopped answering
	LastError        *string    // why it was last marked unreachable (kept once it answers again)
}

// JobFilter selects jobs for the admin list. Zero values mean "any".
type JobFilter struct {
	States  []JobState
	Owner   string
	Machine string
	Limit   int // 0 = a sensible default (100)
	Offset  int
}

// JobEvent is one entry of a job's history.
type JobEvent struct {
	At      time.Time
	State   JobState
	Power   *bool
	Machine *string
	Detail  string
}

// QueuePosition is where a queued job stands on one machine.
type QueuePosition struct {
	Machine  string
	Position int // 1 = head
}

// WaitReason says why a queued job waits.
type WaitReason struct {
	Positions []QueuePosition
	Reason    string // e.g. "behind 3 jobs on spinn-4x2" or "no free 4x2 block meets max_dead_boards=0"
}

// PendingOp is an open BMP operation.
type PendingOp struct {
	ID         int64
	Machine    string
	Cabinet    int
	Frame      int
	Board      geometry.Board
	BoardNum   int
	JobID      *int64
	Kind       OpKind
	Link       *geometry.Link  // link operations: the first of Links
	Links      []geometry.Link // link operations: every link it switches
	CreatedAt  time.Time
	ClaimedAt  *time.Time // while a worker holds it
	LeaseUntil *time.Time // with ClaimedAt: when the claim lapses
	Attempts   int
	LastError  *string
}

// JobDetail is one job with everything an operator may want.
type JobDetail struct {
	JobSummary
	Reason      *string
	CreatedAt   time.Time
	AllocatedAt *time.Time
	ReadyAt     *time.Time
	DestroyedAt *time.Time
	// DurationExpiresAt is when max_job_duration ends a live job (nil: no
	// limit, or the job ended).
	DurationExpiresAt *time.Time
	MachineInfo       *JobMachineInfo
	PendingOps        []PendingOp
	History           []JobEvent
	Waiting           *WaitReason // queued jobs only
}

// BoardAllocation is one past or current use of a board.
type BoardAllocation struct {
	JobID       int64
	Owner       string
	AllocatedAt time.Time
	FreedAt     *time.Time
}

// BoardReport is a problem report filed against a board.
type BoardReport struct {
	ID          int64
	IP          string
	JobID       *int64
	ChipX       *int
	ChipY       *int
	Core        *int
	Description string
	Reporter    string
	ReportedAt  time.Time
}

// Health is the server's own view of its health.
type Health struct {
	DatabaseOK bool // the database answers a read
	// WritesOK is false after UnhealthyAfterFailedWrites write
	// transactions in a row failed inside the database (a full disk, a
	// lost file); one that commits makes it true again.
	WritesOK      bool
	FailedWrites  int    // write transactions failed in a row
	LastWriteErr  string // why the last of them failed
	EmergencyStop bool
}

// Stats are gauges for /metrics.
type Stats struct {
	JobsByState    map[JobState]int
	BoardsByState  map[string]map[string]int // machine -> BoardInfo.State() -> count (every state present, zeros included)
	PoweredBoards  map[string]int            // machine -> boards whose last confirmed power is on
	QueueByMachine map[string]int
	Drained        map[string]bool // machine -> drained by an operator
	PendingBMPOps  int
	EmergencyStop  bool

	// Since start: calls that changed (or tried to change) state, and the
	// transactions that committed (one per successful call).
	WriteCalls        uint64
	WriteTransactions uint64
	// Calls whose change failed with an internal error (database I/O, a
	// bug) and was rolled back.
	WriteFailures uint64
}
