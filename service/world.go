package service

// The committed state (doc.go, "State"): one immutable world per commit.

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// world is the committed state: what every reader sees and what the next
// transaction starts from. A published world and everything reachable from
// it are never written again.
type world struct {
	machines []*machine // live machines, priority order
	index    *machineIndex
	jobs     idMap[*job]    // live jobs (queued, power, ready)
	ops      idMap[*bmpOps] // open BMP operations, by BMP id
	opBMP    idMap[int64]   // open operation id -> its BMP id
	stopped  bool           // emergency stop
	settings settings
	derived  *derived // computed from the rest on first use (job_limits.go); nil = not cached
}

// settings are the server settings a configuration (re)load sets.
type settings struct {
	freeDelay     time.Duration // extra wait after a confirmed power-off
	powerOffGrace time.Duration // free boards anyway when their power-off does not complete (0 = never)
	retain        int           // destroyed jobs kept answerable; 0 = all, negative = none
	bmp           config.BMPSettings
	limits        config.PolicySettings // [policy]: limits on jobs and owners, sick boards
	// policy is the [scheduler] policy; "" until a configuration is
	// applied (queue service then serves heads only and keeps the
	// reservations it finds).
	policy string
}

func emptyWorld() *world { return &world{index: newMachineIndex(nil), derived: &derived{}} }

// machineIndex finds machines and boards of a machine list. It depends only
// on the list's machines and their boards' ids and addresses, which change
// only when the list does (ApplyConfig).
type machineIndex struct {
	pos      map[int64]int // machine id -> position in the list
	byName   map[string]int
	byIP     map[string]boardRef
	boardIDs map[int64]boardRef
}

// boardRef names one board of a live machine.
type boardRef struct {
	machine int64
	index   int
}

func newMachineIndex(ms []*machine) *machineIndex {
	x := &machineIndex{pos: make(map[int64]int, len(ms)), byName: make(map[string]int, len(ms)),
		byIP: map[string]boardRef{}, boardIDs: map[int64]boardRef{}}
	for k, m := range ms {
		x.pos[m.id] = k
		x.byName[m.name] = k
		for i, bi := range m.info {
			ref := boardRef{machine: m.id, index: i}
			x.boardIDs[bi.id] = ref
			if bi.ip != "" {
				x.byIP[bi.ip] = ref
			}
		}
	}
	return x
}

func (w *world) machine(id int64) *machine {
	if k, ok := w.index.pos[id]; ok {
		return w.machines[k]
	}
	return nil
}

func (w *world) machineNamed(name string) *machine {
	if k, ok := w.index.byName[name]; ok {
		return w.machines[k]
	}
	return nil
}

func (w *world) job(id int64) *job {
	j, _ := w.jobs.get(id)
	return j
}

// machineNames maps machine ids to names.
func (w *world) machineNames() map[int64]string {
	names := make(map[int64]string, len(w.machines))
	for _, m := range w.machines {
		names[m.id] = m.name
	}
	return names
}

// ---- machines ----

// boardInfo is what the configuration says about one board.
type boardInfo struct {
	id     int64
	bmpID  int64 // 0: no BMP (a dead board without a position)
	bmp    int   // its BMP's position in machine.bmps; -1: none
	hasPos bool
	phys   Physical
	ip     string
	dead   bool // dead in the configuration
}

// boardDyn is the changing state of one board, as its row holds it.
type boardDyn struct {
	job          int64     // live job holding it
	waiting      int64     // ended job whose power-off has not completed
	waitingSince time.Time // when waiting began
	freeAt       time.Time // with waiting: reusable from then on (free_delay); zero = not yet known
	power        bool      // last state confirmed by the BMP
	oos          string    // why it is out of service; "" = in service
}

// bmpInfo is one BMP of a machine.
type bmpInfo struct {
	id             int64
	cabinet, frame int
	address        string
	unreachable    bool      // its free boards are unavailable until it answers
	since          time.Time // with unreachable: since when
	lastErr        string    // why it was last marked unreachable
}

func (b bmpInfo) String() string { return bmpName(b.cabinet, b.frame, b.address) }

// machine is one live machine.
type machine struct {
	id            int64
	name          string
	priority      int
	width, height int // triads
	tags          []string
	major, minor  string      // configuration fingerprints
	bmps          []bmpInfo   // by cabinet and frame
	info          []boardInfo // by board index
	phys          map[Physical]int
	deadLinks     []DeadLink // configuration and operator entries
	model         *allocModel

	boards boardTable           // board states, by board index
	occ    *allocator.Occupancy // derived from boards (boardUse)
	// gain stamps the last change that could let a placement succeed that
	// failed before: any change of occupancy or model except a free board
	// given to a job (queue service's hints, job_reserve.go). Stamps are
	// never reused.
	gain  uint64
	queue []int64 // queued job ids, ascending (= creation order)
	drain *Drain  // nil: takes allocations; never written in place
	// reservation is the region the blocked head of the queue holds under
	// the reserve policy (job_reserve.go); nil: none.
	reservation *reservation
}

// copyForEdit returns a copy of m that a transaction may change. The
// occupancy is cloned (it is written in place, a board at a time); the
// board states are copied a chunk at a time when first written
// (tx.setBoard); the other slices (tags, BMPs, boards' configuration, dead
// links, queue) are replaced, never written in place.
func (m *machine) copyForEdit() *machine {
	c := *m
	c.occ = m.occ.Clone()
	c.boards = boardTable{chunks: slices.Clone(m.boards.chunks)}
	return &c
}

func (m *machine) index(b geometry.Board) int { return 3*(b.Y*m.width+b.X) + b.Z }

func (m *machine) board(i int) geometry.Board {
	t := i / 3
	return geometry.Board{X: t % m.width, Y: t / m.width, Z: i % 3}
}

func (m *machine) has(b geometry.Board) bool { return b.InMachine(m.width, m.height) }

func (m *machine) queued(id int64) bool {
	_, found := slices.BinarySearch(m.queue, id)
	return found
}

func (m *machine) dyn(i int) boardDyn { return m.boards.at(i) }

// bmpIndex is the position of a BMP in m.bmps, or -1.
func (m *machine) bmpIndex(id int64) int {
	return slices.IndexFunc(m.bmps, func(b bmpInfo) bool { return b.id == id })
}

// bmpDown reports whether board i's BMP is marked unreachable.
func (m *machine) bmpDown(i int) bool {
	k := m.info[i].bmp
	return k >= 0 && m.bmps[k].unreachable
}

// bmpAt is the position in m.bmps of the BMP of a frame, or -1.
func (m *machine) bmpAt(cabinet, frame int) int {
	return slices.IndexFunc(m.bmps, func(b bmpInfo) bool { return b.cabinet == cabinet && b.frame == frame })
}

// boardChunk is how many board states are copied together when one of
// them changes: a transaction copies the chunks it writes, not all boards
// of a 1,200-board machine.
const boardChunk = 64

// boardTable holds a machine's board states in chunks.
type boardTable struct {
	chunks []*[boardChunk]boardDyn
}

func newBoardTable(n int) boardTable {
	t := boardTable{chunks: make([]*[boardChunk]boardDyn, (n+boardChunk-1)/boardChunk)}
	for c := range t.chunks {
		t.chunks[c] = new([boardChunk]boardDyn)
	}
	return t
}

func (t boardTable) at(i int) boardDyn { return t.chunks[i/boardChunk][i%boardChunk] }

// ---- jobs ----

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

// job is one live job (queued, power or ready). Its keepalive clock and
// client address are not here but in the keepalive registry.
type job struct {
	id          int64
	owner       string
	keepalive   *time.Duration // nil: never times out
	args        json.RawMessage
	kwargs      json.RawMessage
	req         jobRequest
	areq        allocator.Request
	createdAt   time.Time
	queuedSince time.Time // when it last entered the queues (allocation waits)

	state   JobState
	power   bool  // wanted power, meaningful while it holds boards
	machine int64 // 0 while queued
	boards  []geometry.Board
	block   allocator.Region // the triads its allocation keeps from others (Allocation.Footprint)
	single  bool
	chipW   int
	chipH   int
	torus   geometry.Wrap
}

func (j *job) clone() *job {
	c := *j
	c.boards = slices.Clone(j.boards)
	return &c
}

func (j *job) hasBoards() bool { return j.machine != 0 && len(j.boards) > 0 }

// ---- BMP operations ----

// op is one open BMP operation on one board (its bit in a bmp_ops row,
// which keeps the open ones only: bmpop_request.go) and its claim, which
// lives in memory only.
type op struct {
	id       int64
	bmpID    int64
	boardID  int64
	job      int64 // 0: none
	kind     OpKind
	links    int64 // link operations: bit l for link l
	board    geometry.Board
	boardNum int

	claimedAt  time.Time // zero: not claimed
	leaseUntil time.Time // with claimedAt: the claim lapses then
}

// inFlight reports whether a worker holds the operation now: claimed, and
// its lease has not run out.
func (o *op) inFlight(now time.Time) bool {
	return !o.claimedAt.IsZero() && now.Before(o.leaseUntil)
}

// lapsed reports whether the operation was claimed and its lease ran out.
func (o *op) lapsed(now time.Time) bool {
	return !o.claimedAt.IsZero() && !now.Before(o.leaseUntil)
}

func (o *op) isPower() bool { return o.kind == OpPowerOn || o.kind == OpPowerOff }

func (o *op) bmpOp() BMPOp {
	out := BMPOp{ID: o.id, BMPID: o.bmpID, Board: o.board, BoardNum: o.boardNum, Kind: o.kind,
		LeaseUntil: o.leaseUntil}
	if o.links != 0 {
		out.Links = linksOf(o.links)
	}
	if o.job != 0 {
		out.JobID = &o.job
	}
	return out
}

// bmpOps are the open operations of one BMP, in request (id) order. A
// transaction copies them whole when it first changes one.
type bmpOps struct {
	ops []*op
}

func (b *bmpOps) clone() *bmpOps {
	if b == nil {
		return &bmpOps{}
	}
	return &bmpOps{ops: slices.Clone(b.ops)}
}

// linkMask is the bit mask of a set of links (bmp_ops.links).
func linkMask(links ...geometry.Link) int64 {
	var m int64
	for _, l := range links {
		m |= 1 << l
	}
	return m
}

// linksOf lists the links of a mask, ascending.
func linksOf(mask int64) []geometry.Link {
	var out []geometry.Link
	for _, l := range geometry.AllLinks {
		if mask&(1<<l) != 0 {
			out = append(out, l)
		}
	}
	return out
}

// ---- idMap ----

// idShards is the number of shards of an idMap.
const idShards = 64

// idMap is a persistent map from ids to values: a published idMap is
// never changed; with returns a new one that shares every shard it does
// not change.
type idMap[V any] struct {
	shards *[idShards]*idShard[V]
	n      int
}

type idShard[V any] struct{ m map[int64]V }

func (x idMap[V]) get(id int64) (V, bool) {
	if x.shards == nil {
		var zero V
		return zero, false
	}
	s := x.shards[uint64(id)%idShards]
	if s == nil {
		var zero V
		return zero, false
	}
	v, ok := s.m[id]
	return v, ok
}

func (x idMap[V]) len() int { return x.n }

// each calls f for every entry, in no particular order.
func (x idMap[V]) each(f func(int64, V)) {
	if x.shards == nil {
		return
	}
	for _, s := range x.shards {
		if s == nil {
			continue
		}
		for id, v := range s.m {
			f(id, v)
		}
	}
}

// keys lists the ids, ascending.
func (x idMap[V]) keys() []int64 {
	ids := make([]int64, 0, x.n)
	x.each(func(id int64, _ V) { ids = append(ids, id) })
	slices.Sort(ids)
	return ids
}

// with returns x with set applied and the ids of gone removed.
func (x idMap[V]) with(set map[int64]V, gone map[int64]bool) idMap[V] {
	if len(set) == 0 && len(gone) == 0 {
		return x
	}
	var shards [idShards]*idShard[V]
	if x.shards != nil {
		shards = *x.shards
	}
	copied := [idShards]bool{}
	shard := func(id int64) *idShard[V] {
		k := uint64(id) % idShards
		if !copied[k] {
			c := &idShard[V]{m: map[int64]V{}}
			if s := shards[k]; s != nil {
				c.m = make(map[int64]V, len(s.m)+1)
				for id, v := range s.m {
					c.m[id] = v
				}
			}
			shards[k], copied[k] = c, true
		}
		return shards[k]
	}
	n := x.n
	for id, v := range set {
		s := shard(id)
		if _, had := s.m[id]; !had {
			n++
		}
		s.m[id] = v
	}
	for id := range gone {
		if s := shards[uint64(id)%idShards]; s == nil {
			continue
		} else if _, had := s.m[id]; !had {
			continue
		}
		delete(shard(id).m, id)
		n--
	}
	return idMap[V]{shards: &shards, n: n}
}
