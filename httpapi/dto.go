package httpapi

// The JSON shapes of the API. They are separate from the service types so
// that field names (snake_case, like the v1 protocol) stay stable when the
// service's Go types change.

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// xyz is a logical board position as [x, y, z].
type xyz [3]int

func toXYZ(b geometry.Board) xyz { return xyz{b.X, b.Y, b.Z} }

func boardsXYZ(bs []geometry.Board) []xyz {
	out := make([]xyz, 0, len(bs))
	for _, b := range bs {
		out = append(out, toXYZ(b))
	}
	return out
}

// present is bs without the slots the machine does not have (operator
// views do not show them: service.MachineSummary.Absent).
func present(bs, absent []geometry.Board) []geometry.Board {
	return slices.DeleteFunc(slices.Clone(bs), func(b geometry.Board) bool { return slices.Contains(absent, b) })
}

type boardJSON struct {
	Logical        xyz      `json:"logical"`
	Physical       *[3]int  `json:"physical"` // [cabinet, frame, board]
	Chip           [2]int   `json:"chip"`     // the board's Ethernet chip in machine chip coordinates
	IP             string   `json:"ip"`
	State          string   `json:"state"`
	Dead           bool     `json:"dead"`
	OutOfService   *string  `json:"out_of_service"`
	OutOfServiceAt *float64 `json:"out_of_service_at"` // with out_of_service: since when
	OutOfServiceBy *string  `json:"out_of_service_by"` // with out_of_service: the admin token's name, "server" (problem reports), null (BMP failure)
	Power          bool     `json:"power"`
	PowerChangedAt *float64 `json:"power_changed_at"`
	JobID          *int64   `json:"job_id"`
	WaitingJobID   *int64   `json:"waiting_job_id"`
	PendingOps     int      `json:"pending_ops"`
	LastError      *string  `json:"last_error"`
	Reports        int      `json:"reports"`
	BMPUnreachable bool     `json:"bmp_unreachable"` // its BMP does not answer: unavailable, though in service
}

func toBoardJSON(b service.BoardInfo) boardJSON {
	cx, cy := geometry.BoardToChip(b.Board)
	out := boardJSON{
		Logical: toXYZ(b.Board), Chip: [2]int{cx, cy}, IP: b.IP, State: b.State(),
		Dead: b.Dead, OutOfService: b.OutOfService, OutOfServiceAt: unixPtr(b.OutOfServiceAt), OutOfServiceBy: b.OutOfServiceBy,
		Power: b.Power, PowerChangedAt: unixPtr(b.PowerChangedAt),
		JobID: b.JobID, WaitingJobID: b.WaitingJobID, PendingOps: b.PendingOps, LastError: b.LastError,
		Reports: b.Reports, BMPUnreachable: b.BMPUnreachable,
	}
	if b.Physical != nil {
		out.Physical = &[3]int{b.Physical.Cabinet, b.Physical.Frame, b.Physical.Board}
	}
	return out
}

type deadLinkJSON struct {
	Board xyz           `json:"board"`
	Link  geometry.Link `json:"link"` // its name: "east", "north_east", ...
	// Vector is the chip offset from this board's Ethernet chip to the
	// neighbour's, without wrap-around: the direction the link leaves in.
	Vector [2]int `json:"vector"`
}

func toDeadLinkJSON(l service.DeadLink) deadLinkJSON {
	out := deadLinkJSON{Board: toXYZ(l.Board), Link: l.Link}
	if dx, dy, dz, ok := geometry.BoardLinkVector(l.Board.Z, l.Link); ok {
		x0, y0 := geometry.BoardToChip(l.Board)
		x1, y1 := geometry.BoardToChip(geometry.Board{X: l.Board.X + dx, Y: l.Board.Y + dy, Z: l.Board.Z + dz})
		out.Vector = [2]int{x1 - x0, y1 - y0}
	}
	return out
}

type machineJSON struct {
	Name        string         `json:"name"`
	Tags        []string       `json:"tags"`
	Width       int            `json:"width"`  // triads
	Height      int            `json:"height"` // triads
	DeadBoards  []xyz          `json:"dead_boards"`
	DeadLinks   []deadLinkJSON `json:"dead_links"`
	QueueLength *int           `json:"queue_length,omitempty"`
	BoardCounts map[string]int `json:"board_counts,omitempty"`
	Drained     *drainJSON     `json:"drained"` // null: it takes allocations
	// Reservation is the region of triads the blocked head of the queue
	// holds (scheduler policy "reserve"); null when there is none.
	Reservation *reservationJSON `json:"reservation"`
}

// drainJSON says why, since when (Unix seconds) and by whom a machine is
// drained.
type drainJSON struct {
	Reason string  `json:"reason"`
	At     float64 `json:"at"`
	By     string  `json:"by"`
}

type reservationJSON struct {
	Job int64 `json:"job"`
	X   int   `json:"x"` // bottom-left triad
	Y   int   `json:"y"`
	W   int   `json:"w"` // triads
	H   int   `json:"h"`
}

func toMachineJSON(m service.MachineSummary) machineJSON {
	out := machineJSON{
		Name: m.Name, Tags: m.Tags, Width: m.Width, Height: m.Height,
		DeadBoards: boardsXYZ(present(m.DeadBoards, m.Absent)), DeadLinks: make([]deadLinkJSON, 0, len(m.DeadLinks)),
	}
	if d := m.Drained; d != nil {
		out.Drained = &drainJSON{Reason: d.Reason, At: unixOf(d.At), By: d.By}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for _, l := range m.DeadLinks {
		out.DeadLinks = append(out.DeadLinks, toDeadLinkJSON(l))
	}
	if r := m.Reservation; r != nil {
		out.Reservation = &reservationJSON{Job: r.Job, X: r.X, Y: r.Y, W: r.Width, H: r.Height}
	}
	return out
}

type bmpJSON struct {
	ID               int64    `json:"id"`
	Cabinet          int      `json:"cabinet"`
	Frame            int      `json:"frame"`
	Address          string   `json:"address"`
	Unreachable      bool     `json:"unreachable"`       // it does not answer: its boards are unavailable
	UnreachableSince *float64 `json:"unreachable_since"` // Unix seconds, while unreachable
	LastError        *string  `json:"last_error"`        // why it was last found unreachable
}

func toBMPJSON(b service.BMPState) bmpJSON {
	return bmpJSON{ID: b.ID, Cabinet: b.Cabinet, Frame: b.Frame, Address: b.Address,
		Unreachable: b.Unreachable, UnreachableSince: unixPtr(b.UnreachableSince), LastError: b.LastError}
}

type machineDetailJSON struct {
	machineJSON
	Priority int         `json:"priority"`
	BMPs     []bmpJSON   `json:"bmps"`
	Boards   []boardJSON `json:"boards"`
}

func toMachineDetailJSON(m *service.MachineDetail) machineDetailJSON {
	out := machineDetailJSON{machineJSON: toMachineJSON(m.MachineSummary), Priority: m.Priority}
	q := m.QueueLen
	out.QueueLength = &q
	out.BoardCounts = map[string]int{}
	out.BMPs = make([]bmpJSON, 0, len(m.BMPs))
	for _, b := range m.BMPs {
		out.BMPs = append(out.BMPs, toBMPJSON(b))
	}
	out.Boards = make([]boardJSON, 0, len(m.Boards))
	for _, b := range m.Boards {
		bj := toBoardJSON(b)
		out.BoardCounts[bj.State]++
		out.Boards = append(out.Boards, bj)
	}
	return out
}

type connectionJSON struct {
	Chip     [2]int `json:"chip"`
	Hostname string `json:"hostname"`
}

type pendingOpJSON struct {
	ID         int64           `json:"id"`
	Machine    string          `json:"machine"`
	Cabinet    int             `json:"cabinet"`
	Frame      int             `json:"frame"`
	Board      xyz             `json:"board"`
	BoardNum   int             `json:"board_num"`
	JobID      *int64          `json:"job_id"`
	Op         service.OpKind  `json:"op"`
	Link       *geometry.Link  `json:"link"`  // link operations: the first of links
	Links      []geometry.Link `json:"links"` // link operations: every link switched, else null
	CreatedAt  float64         `json:"created_at"`
	ClaimedAt  *float64        `json:"claimed_at"`
	LeaseUntil *float64        `json:"lease_until"` // with claimed_at: when the claim lapses
	Attempts   int             `json:"attempts"`
	LastError  *string         `json:"last_error"`
}

func toPendingOpJSON(p service.PendingOp) pendingOpJSON {
	return pendingOpJSON{
		ID: p.ID, Machine: p.Machine, Cabinet: p.Cabinet, Frame: p.Frame, Board: toXYZ(p.Board),
		BoardNum: p.BoardNum, JobID: p.JobID, Op: p.Kind, Link: p.Link, Links: p.Links, CreatedAt: unixOf(p.CreatedAt),
		ClaimedAt: unixPtr(p.ClaimedAt), LeaseUntil: unixPtr(p.LeaseUntil), Attempts: p.Attempts, LastError: p.LastError,
	}
}

func toPendingOpsJSON(ps []service.PendingOp) []pendingOpJSON {
	out := make([]pendingOpJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, toPendingOpJSON(p))
	}
	return out
}

type jobEventJSON struct {
	At      float64 `json:"at"`
	State   string  `json:"state"`
	Power   *bool   `json:"power"`
	Machine *string `json:"machine"`
	Detail  string  `json:"detail"`
}

type queuePositionJSON struct {
	Machine  string `json:"machine"`
	Position int    `json:"position"`
}

type waitingJSON struct {
	Positions []queuePositionJSON `json:"positions"`
	Reason    string              `json:"reason"`
}

type jobJSON struct {
	JobID         int64    `json:"job_id"`
	Owner         string   `json:"owner"`
	State         string   `json:"state"`
	StateCode     int      `json:"state_code"`
	Power         *bool    `json:"power"`
	Keepalive     *float64 `json:"keepalive"`
	KeepaliveHost *string  `json:"keepalivehost"`
	LastSeen      *float64 `json:"last_seen"`  // live jobs: when its client last sent a command about it
	ExpiresAt     *float64 `json:"expires_at"` // live jobs with a keepalive: when it times out if its client stays silent
	// DurationExpiresAt: live jobs under max_job_duration: when that
	// destroys them, whatever their client does.
	DurationExpiresAt *float64         `json:"duration_expires_at"`
	Args              json.RawMessage  `json:"args"`
	Kwargs            json.RawMessage  `json:"kwargs"`
	Machine           *string          `json:"machine"`
	Boards            []xyz            `json:"boards"`
	Reason            *string          `json:"reason"`
	CreatedAt         float64          `json:"created_at"`
	AllocatedAt       *float64         `json:"allocated_at"`
	ReadyAt           *float64         `json:"ready_at"`
	DestroyedAt       *float64         `json:"destroyed_at"`
	Width             *int             `json:"width"`  // chips, once allocated
	Height            *int             `json:"height"` // chips, once allocated
	Connections       []connectionJSON `json:"connections"`
	Waiting           *waitingJSON     `json:"waiting"`
	PendingOps        []pendingOpJSON  `json:"pending_ops,omitempty"`
	History           []jobEventJSON   `json:"history,omitempty"`
}

// rawOr returns raw, or fallback when raw is empty (JSON needs a value).
func rawOr(raw json.RawMessage, fallback string) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(fallback)
	}
	return raw
}

// toJobJSON converts a job; full adds its pending operations and history.
func toJobJSON(j *service.JobDetail, full bool) jobJSON {
	out := jobJSON{
		JobID: j.ID, Owner: j.Owner, State: j.State.String(), StateCode: int(j.State), Power: j.Power,
		Keepalive: secondsPtr(j.Keepalive), Args: rawOr(j.Args, "[]"), Kwargs: rawOr(j.Kwargs, "{}"),
		Machine: j.MachineName, Reason: j.Reason, CreatedAt: unixOf(j.CreatedAt),
		AllocatedAt: unixPtr(j.AllocatedAt), ReadyAt: unixPtr(j.ReadyAt), DestroyedAt: unixPtr(j.DestroyedAt),
		DurationExpiresAt: unixPtr(j.DurationExpiresAt), Boards: []xyz{}, Connections: []connectionJSON{},
	}
	if j.KeepaliveHost != "" {
		h := j.KeepaliveHost
		out.KeepaliveHost = &h
	}
	if j.Boards != nil {
		out.Boards = boardsXYZ(j.Boards)
	}
	if mi := j.MachineInfo; mi != nil {
		w, h := mi.Width, mi.Height
		out.Width, out.Height = &w, &h
		for _, c := range mi.Connections {
			out.Connections = append(out.Connections, connectionJSON{Chip: [2]int{c.ChipX, c.ChipY}, Hostname: c.Hostname})
		}
		if len(out.Boards) == 0 {
			out.Boards = boardsXYZ(mi.Boards)
		}
	}
	if wr := j.Waiting; wr != nil {
		wj := &waitingJSON{Reason: wr.Reason, Positions: []queuePositionJSON{}}
		for _, p := range wr.Positions {
			wj.Positions = append(wj.Positions, queuePositionJSON{Machine: p.Machine, Position: p.Position})
		}
		out.Waiting = wj
	}
	if !full {
		return out
	}
	out.PendingOps = toPendingOpsJSON(j.PendingOps)
	out.History = make([]jobEventJSON, 0, len(j.History))
	for _, e := range j.History {
		out.History = append(out.History, jobEventJSON{At: unixOf(e.At), State: e.State.String(), Power: e.Power, Machine: e.Machine, Detail: e.Detail})
	}
	return out
}

type allocationJSON struct {
	JobID       int64    `json:"job_id"`
	Owner       string   `json:"owner"`
	AllocatedAt float64  `json:"allocated_at"`
	FreedAt     *float64 `json:"freed_at"`
}

type reportJSON struct {
	ID          int64   `json:"id"`
	IP          string  `json:"ip"`
	JobID       *int64  `json:"job_id"`
	ChipX       *int    `json:"chip_x"`
	ChipY       *int    `json:"chip_y"`
	Core        *int    `json:"core"`
	Description string  `json:"description"`
	Reporter    string  `json:"reporter"`
	ReportedAt  float64 `json:"reported_at"`
}

type whereIsJSON struct {
	Machine   string  `json:"machine"`
	Logical   xyz     `json:"logical"`
	Physical  [3]int  `json:"physical"`
	Chip      [2]int  `json:"chip"`
	BoardChip [2]int  `json:"board_chip"`
	JobID     *int64  `json:"job_id"`
	JobChip   *[2]int `json:"job_chip"`
}

func toWhereIsJSON(r *service.WhereIsResult) whereIsJSON {
	return whereIsJSON{
		Machine: r.Machine, Logical: toXYZ(r.Logical),
		Physical: [3]int{r.Physical.Cabinet, r.Physical.Frame, r.Physical.Board},
		Chip:     r.Chip, BoardChip: r.BoardChip, JobID: r.JobID, JobChip: r.JobChip,
	}
}

// secondsPtr is a span as the API shows it: seconds.
func secondsPtr(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := d.Seconds()
	return &v
}
