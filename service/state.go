package service

// The in-memory mirror of the database: machines with their boards and
// allocator state, and the live jobs. It is rebuilt from the database at
// Open and changed only after a commit, by swapping in the copies a write
// transaction worked on (copy-on-write), so readers never see uncommitted
// state and never wait for a transaction.

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// boardInfo is what the configuration says about one board; it changes only
// with the machine's configuration.
type boardInfo struct {
	id     int64
	bmpID  int64 // 0: no BMP (a dead board without a position)
	hasPos bool
	phys   Physical
	ip     string
	dead   bool // dead in the configuration
}

// boardDyn is the changing state of one board.
type boardDyn struct {
	job          int64   // live job holding it
	waiting      int64   // ended job whose power-off has not completed
	waitingSince float64 // when waiting began
	freeAt       float64 // with waiting: reusable from then on (free_delay); 0 = not yet known
	power        bool    // last state confirmed by the BMP
	oos          string  // why it is out of service; "" = in service
}

// bmpInfo is one BMP of a machine.
type bmpInfo struct {
	id             int64
	cabinet, frame int
	address        string
	unreachable    bool    // marked unreachable: its free boards are unavailable (reachability.go)
	downSince      float64 // with unreachable: since when
	lastErr        string  // why it was last marked unreachable
}

// allocModel is a machine's allocator view (dead and out-of-service boards
// both count as dead) with its feasibility cache. It is immutable apart from
// the cache; a change of dead boards, links or service builds a new one.
type allocModel struct {
	m        *allocator.Machine
	mu       sync.Mutex
	feasible map[allocator.Request]bool
}

func newAllocModel(m *allocator.Machine) *allocModel {
	return &allocModel{m: m, feasible: map[allocator.Request]bool{}}
}

// Feasible answers allocator.Feasible, cached per request.
func (a *allocModel) Feasible(r allocator.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok, seen := a.feasible[r]
	if !seen {
		ok = allocator.Feasible(a.m, r)
		a.feasible[r] = ok
	}
	return ok
}

// queueMemo remembers that the head of a machine's queue did not fit at a
// given occupancy version, so queue service does not try it again until
// something changes. It is shared by all copies of a machine state and only
// touched by the writer.
type queueMemo struct {
	head    int64
	version uint64
}

// machineState is one live machine. A published machineState is never
// modified; a transaction edits a copy (see tx.edit).
type machineState struct {
	id            int64
	name          string
	priority      int
	width, height int
	tags          []string
	major, minor  string
	bmps          []bmpInfo
	info          []boardInfo // by allocator board index
	deadLinks     []DeadLink  // configuration and operator entries
	phys          map[Physical]int
	model         *allocModel

	dyn     []boardDyn
	occ     *allocator.Occupancy
	version uint64  // changes whenever occupancy or model change
	queue   []int64 // queued job ids, ascending (= creation order)
	memo    *queueMemo
}

func (m *machineState) index(b geometry.Board) int { return 3*(b.Y*m.width+b.X) + b.Z }

func (m *machineState) board(i int) geometry.Board {
	t := i / 3
	return geometry.Board{X: t % m.width, Y: t / m.width, Z: i % 3}
}

func (m *machineState) has(b geometry.Board) bool { return b.InMachine(m.width, m.height) }

func (m *machineState) queued(id int64) bool {
	_, found := slices.BinarySearch(m.queue, id)
	return found
}

// boardRef names one board of a live machine.
type boardRef struct {
	machine int64
	index   int
}

// touchState is a job's keepalive clock and last client address. It lives
// only in memory and is shared by every copy of the job's state.
type touchState struct {
	at   atomic.Int64 // Unix nanoseconds of the last job-specific command
	host atomic.Pointer[string]
}

func newTouch(now time.Time) *touchState {
	t := &touchState{}
	t.at.Store(now.UnixNano())
	return t
}

// jobRequest is the normalised request stored with a job (jobs.request).
type jobRequest struct {
	Kind          allocator.Kind `json:"kind"`
	N             int            `json:"n,omitempty"`
	W             int            `json:"w,omitempty"`
	H             int            `json:"h,omitempty"`
	Board         *[3]int        `json:"board,omitempty"`
	MinRatio      float64        `json:"min_ratio"`
	MaxDeadBoards int            `json:"max_dead_boards"` // -1 unlimited
	MaxDeadLinks  int            `json:"max_dead_links"`  // -1 unlimited
	RequireTorus  bool           `json:"require_torus"`
	Machine       *string        `json:"machine,omitempty"`
	Tags          []string       `json:"tags"`
}

// alloc is the allocator's view of the request.
func (r jobRequest) alloc() allocator.Request {
	a := allocator.Request{Kind: r.Kind, N: r.N, W: r.W, H: r.H, MinRatio: r.MinRatio,
		MaxDeadBoards: r.MaxDeadBoards, MaxDeadLinks: r.MaxDeadLinks, RequireTorus: r.RequireTorus}
	if r.Board != nil {
		a.Board = geometry.Board{X: r.Board[0], Y: r.Board[1], Z: r.Board[2]}
	}
	return a
}

// jobState is one live job (queued, power or ready). Published copies are
// never modified, except through touch.
type jobState struct {
	id        int64
	owner     string
	keepalive *float64
	args      json.RawMessage
	kwargs    json.RawMessage
	req       jobRequest
	areq      allocator.Request
	createdAt float64
	touch     *touchState

	state   JobState
	power   bool  // wanted power, meaningful while it holds boards
	machine int64 // 0 while queued
	boards  []geometry.Board
	single  bool
	chipW   int
	chipH   int
	torus   geometry.Wrap
}

func (j *jobState) clone() *jobState {
	c := *j
	c.boards = slices.Clone(j.boards)
	return &c
}

func (j *jobState) hasBoards() bool { return j.machine != 0 && len(j.boards) > 0 }

// mirror holds the committed state. Readers take mu for reading; the writer
// changes it only after a commit, holding mu for writing briefly.
type mirror struct {
	mu       sync.RWMutex
	machines []*machineState // priority order
	byID     map[int64]*machineState
	byName   map[string]*machineState
	byIP     map[string]boardRef
	boardIDs map[int64]boardRef
	jobs     map[int64]*jobState
	stopped  bool // emergency stop
}

func newMirror() *mirror {
	return &mirror{byID: map[int64]*machineState{}, byName: map[string]*machineState{},
		byIP: map[string]boardRef{}, boardIDs: map[int64]boardRef{}, jobs: map[int64]*jobState{}}
}

// setMachines replaces the machine list and rebuilds the indexes.
func (mr *mirror) setMachines(ms []*machineState) {
	mr.machines = ms
	mr.byID = make(map[int64]*machineState, len(ms))
	mr.byName = make(map[string]*machineState, len(ms))
	mr.byIP = map[string]boardRef{}
	mr.boardIDs = map[int64]boardRef{}
	for _, m := range ms {
		mr.byID[m.id] = m
		mr.byName[m.name] = m
		for i, bi := range m.info {
			ref := boardRef{machine: m.id, index: i}
			mr.boardIDs[bi.id] = ref
			if bi.ip != "" {
				mr.byIP[bi.ip] = ref
			}
		}
	}
}

// replaceMachine swaps in a new copy of a machine already in the list.
func (mr *mirror) replaceMachine(m *machineState) {
	for i, old := range mr.machines {
		if old.id == m.id {
			mr.machines[i] = m
		}
	}
	mr.byID[m.id] = m
	mr.byName[m.name] = m
}

func (mr *mirror) job(id int64) *jobState {
	mr.mu.RLock()
	j := mr.jobs[id]
	mr.mu.RUnlock()
	return j
}

func (mr *mirror) machineByName(name string) *machineState {
	mr.mu.RLock()
	m := mr.byName[name]
	mr.mu.RUnlock()
	return m
}

func (mr *mirror) machineByID(id int64) *machineState {
	mr.mu.RLock()
	m := mr.byID[id]
	mr.mu.RUnlock()
	return m
}

func (mr *mirror) machineList() []*machineState {
	mr.mu.RLock()
	ms := slices.Clone(mr.machines)
	mr.mu.RUnlock()
	return ms
}
