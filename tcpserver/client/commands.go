package client

import (
	"context"
	"encoding/json"
	"fmt"
)

// JobState is get_job_state's reply. Pointer fields are null on the wire
// when nil.
type JobState struct {
	State         int      `json:"state"`
	Power         *bool    `json:"power"`
	Keepalive     *float64 `json:"keepalive"`
	Reason        *string  `json:"reason"`
	StartTime     *float64 `json:"start_time"`
	KeepaliveHost *string  `json:"keepalivehost"`
}

// Job states on the wire.
const (
	StateUnknown   = 0
	StateQueued    = 1
	StatePower     = 2
	StateReady     = 3
	StateDestroyed = 4
)

// Connection is one get_job_machine_info connection: an Ethernet chip and
// its board's hostname. On the wire it is [[x, y], "host"].
type Connection struct {
	ChipX, ChipY int
	Hostname     string
}

func (c Connection) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{[2]int{c.ChipX, c.ChipY}, c.Hostname})
}

func (c *Connection) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return fmt.Errorf("connection %s: want [[x, y], host]", b)
	}
	var xy [2]int
	if err := json.Unmarshal(raw[0], &xy); err != nil {
		return fmt.Errorf("connection %s: %w", b, err)
	}
	c.ChipX, c.ChipY = xy[0], xy[1]
	return json.Unmarshal(raw[1], &c.Hostname)
}

// MachineInfo is get_job_machine_info's reply; every field is nil until
// the job has boards.
type MachineInfo struct {
	Width       *int         `json:"width"`
	Height      *int         `json:"height"`
	Connections []Connection `json:"connections"`
	MachineName *string      `json:"machine_name"`
	Boards      [][3]int     `json:"boards"`
}

// JobInfo is one list_jobs entry.
type JobInfo struct {
	JobID                int64           `json:"job_id"`
	Owner                string          `json:"owner"`
	StartTime            float64         `json:"start_time"`
	Keepalive            *float64        `json:"keepalive"`
	State                int             `json:"state"`
	Power                *bool           `json:"power"`
	Args                 json.RawMessage `json:"args"`
	Kwargs               json.RawMessage `json:"kwargs"`
	AllocatedMachineName *string         `json:"allocated_machine_name"`
	Boards               [][3]int        `json:"boards"`
	KeepaliveHost        *string         `json:"keepalivehost"`
}

// Machine is one list_machines entry.
type Machine struct {
	Name       string   `json:"name"`
	Tags       []string `json:"tags"`
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	DeadBoards [][3]int `json:"dead_boards"`
	DeadLinks  [][4]int `json:"dead_links"`
}

// Location is where_is's reply.
type Location struct {
	Machine   string  `json:"machine"`
	Logical   [3]int  `json:"logical"`
	Physical  [3]int  `json:"physical"`
	Chip      [2]int  `json:"chip"`
	BoardChip [2]int  `json:"board_chip"`
	JobID     *int64  `json:"job_id"`
	JobChip   *[2]int `json:"job_chip"`
}

// callInto calls and decodes the return value into out (if not nil).
func (c *Client) callInto(ctx context.Context, out any, command string, args []any, kwargs map[string]any) error {
	raw, err := c.Call(ctx, command, args, kwargs)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("spalloc client: %s: bad return value %s: %w", command, raw, err)
	}
	return nil
}

// Version returns the server's version string.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v string
	return v, c.callInto(ctx, &v, "version", nil, nil)
}

// CreateJob creates a job: args are the positional form ((), (n), (w, h)
// or (x, y, z)); kwargs must hold "owner" and may hold keepalive, machine,
// tags, min_ratio, max_dead_boards, max_dead_links, require_torus.
func (c *Client) CreateJob(ctx context.Context, args []any, kwargs map[string]any) (int64, error) {
	var id int64
	return id, c.callInto(ctx, &id, "create_job", args, kwargs)
}

// JobKeepalive keeps a job alive.
func (c *Client) JobKeepalive(ctx context.Context, id int64) error {
	return c.callInto(ctx, nil, "job_keepalive", []any{id}, nil)
}

// GetJobState polls a job.
func (c *Client) GetJobState(ctx context.Context, id int64) (JobState, error) {
	var st JobState
	return st, c.callInto(ctx, &st, "get_job_state", []any{id}, nil)
}

// GetJobMachineInfo returns a job's boards and their Ethernet connections.
func (c *Client) GetJobMachineInfo(ctx context.Context, id int64) (MachineInfo, error) {
	var mi MachineInfo
	return mi, c.callInto(ctx, &mi, "get_job_machine_info", []any{id}, nil)
}

// PowerOnJobBoards (re)powers a job's boards.
func (c *Client) PowerOnJobBoards(ctx context.Context, id int64) error {
	return c.callInto(ctx, nil, "power_on_job_boards", []any{id}, nil)
}

// PowerOffJobBoards powers a job's boards off.
func (c *Client) PowerOffJobBoards(ctx context.Context, id int64) error {
	return c.callInto(ctx, nil, "power_off_job_boards", []any{id}, nil)
}

// DestroyJob destroys a job; reason nil means none given.
func (c *Client) DestroyJob(ctx context.Context, id int64, reason *string) error {
	kw := map[string]any{"reason": nil}
	if reason != nil {
		kw["reason"] = *reason
	}
	return c.callInto(ctx, nil, "destroy_job", []any{id}, kw)
}

// NotifyJob subscribes to one job's changes, or all jobs' when id is nil.
func (c *Client) NotifyJob(ctx context.Context, id *int64) error {
	return c.callInto(ctx, nil, "notify_job", []any{optional(id)}, nil)
}

// NoNotifyJob unsubscribes from one job, or from all when id is nil.
func (c *Client) NoNotifyJob(ctx context.Context, id *int64) error {
	return c.callInto(ctx, nil, "no_notify_job", []any{optional(id)}, nil)
}

// NotifyMachine subscribes to one machine's changes, or all when name is
// nil.
func (c *Client) NotifyMachine(ctx context.Context, name *string) error {
	return c.callInto(ctx, nil, "notify_machine", []any{optional(name)}, nil)
}

// NoNotifyMachine unsubscribes from one machine, or from all when name is
// nil.
func (c *Client) NoNotifyMachine(ctx context.Context, name *string) error {
	return c.callInto(ctx, nil, "no_notify_machine", []any{optional(name)}, nil)
}

func optional[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ListJobs lists live jobs, oldest first.
func (c *Client) ListJobs(ctx context.Context) ([]JobInfo, error) {
	var jobs []JobInfo
	return jobs, c.callInto(ctx, &jobs, "list_jobs", nil, nil)
}

// ListMachines lists machines in priority order.
func (c *Client) ListMachines(ctx context.Context) ([]Machine, error) {
	var ms []Machine
	return ms, c.callInto(ctx, &ms, "list_machines", nil, nil)
}

// GetBoardPosition returns a board's [cabinet, frame, board], or nil.
func (c *Client) GetBoardPosition(ctx context.Context, machine string, x, y, z int) (*[3]int, error) {
	var p *[3]int
	return p, c.callInto(ctx, &p, "get_board_position", []any{machine, x, y, z}, nil)
}

// GetBoardAtPosition returns the board [x, y, z] in a physical slot, or nil.
func (c *Client) GetBoardAtPosition(ctx context.Context, machine string, cabinet, frame, board int) (*[3]int, error) {
	var p *[3]int
	return p, c.callInto(ctx, &p, "get_board_at_position", []any{machine, cabinet, frame, board}, nil)
}

// WhereIs locates a board or chip; kwargs is one of the four keyword forms
// (machine+x,y,z; machine+cabinet,frame,board; machine+chip_x,chip_y;
// job_id+chip_x,chip_y). Nil when there is no such board.
func (c *Client) WhereIs(ctx context.Context, kwargs map[string]any) (*Location, error) {
	var loc *Location
	return loc, c.callInto(ctx, &loc, "where_is", nil, kwargs)
}

// ReportProblem reports a problem with the board at address; kwargs may
// hold x, y (chip), p (core) and description.
func (c *Client) ReportProblem(ctx context.Context, address string, kwargs map[string]any) error {
	return c.callInto(ctx, nil, "report_problem", []any{address}, kwargs)
}
