package service

// Building the committed world from the database at Open.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

const keyEmergencyStop = "emergency_stop"

// load reads the database into a world, in one read transaction (one
// snapshot of everything). Every live job's keepalive clock starts afresh;
// no operation is claimed (claims are not stored).
func (s *Service) load(ctx context.Context) error {
	if err := s.w.Begin(ctx); err != nil {
		return s.internal("begin load", err)
	}
	defer s.rollback(ctx)
	w, hosts, err := loadWorld(ctx, s.w.Queries)
	if err != nil {
		return s.internal("load the state", err)
	}
	if s.answerable, err = s.w.Queries.CountAnswerableDestroyed(ctx); err != nil {
		return s.internal("count destroyed jobs", err)
	}
	now := stamp(s.clock.Now())
	for id, host := range hosts {
		s.alive.add(id, now, host)
	}
	for _, m := range w.machines {
		m.gain = s.gains.Add(1)
	}
	s.world.Store(w)
	return nil
}

// loadWorld reads a world from the database (q inside a transaction), with
// the live jobs' client addresses. Settings are not stored: they come
// with the configuration.
func loadWorld(ctx context.Context, q *db.Queries) (*world, map[int64]string, error) {
	machines, err := loadMachines(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	w := &world{machines: machines, index: newMachineIndex(machines), derived: &derived{}}
	jobs, hosts, err := loadJobs(ctx, q, w)
	if err != nil {
		return nil, nil, err
	}
	if err := loadDrains(ctx, q, w); err != nil {
		return nil, nil, err
	}
	w.jobs = w.jobs.with(jobs, nil)
	if w.stopped, err = loadStopped(ctx, q); err != nil {
		return nil, nil, err
	}
	ops, opBMP, err := loadOps(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	w.ops, w.opBMP = w.ops.with(ops, nil), w.opBMP.with(opBMP, nil)
	return w, hosts, nil
}

// loadOps reads the open operations, by BMP.
func loadOps(ctx context.Context, q *db.Queries) (map[int64]*bmpOps, map[int64]int64, error) {
	rows, err := q.ListOpenOps(ctx)
	if err != nil {
		return nil, nil, err
	}
	byBMP := map[int64]*bmpOps{}
	opBMP := make(map[int64]int64, len(rows))
	for _, r := range rows { // in id order
		o := opFromRow(r)
		if byBMP[o.bmpID] == nil {
			byBMP[o.bmpID] = &bmpOps{}
		}
		byBMP[o.bmpID].ops = append(byBMP[o.bmpID].ops, o)
		opBMP[o.id] = o.bmpID
	}
	return byBMP, opBMP, nil
}

func opFromRow(r db.ListOpenOpsRow) *op {
	o := &op{id: r.ID, bmpID: r.BmpID, boardID: r.BoardID, kind: OpKind(r.Op),
		board: geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)}, boardNum: intOf(r.BoardNum)}
	if r.JobID != nil {
		o.job = *r.JobID
	}
	if r.Links != nil {
		o.links = *r.Links
	}
	return o
}

func loadStopped(ctx context.Context, q *db.Queries) (bool, error) {
	v, err := q.GetServerState(ctx, keyEmergencyStop)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return v == "1", err
}

func loadMachines(ctx context.Context, q *db.Queries) ([]*machine, error) {
	rows, err := q.ListLiveMachines(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*machine, 0, len(rows))
	for _, r := range rows {
		m, err := loadMachine(ctx, q, r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func loadMachine(ctx context.Context, q *db.Queries, r db.Machine) (*machine, error) {
	m := &machine{id: r.ID, name: r.Name, priority: int(r.Priority), width: int(r.Width),
		height: int(r.Height), major: r.MajorFingerprint, minor: r.MinorFingerprint}
	var err error
	if m.tags, err = q.ListMachineTags(ctx, r.ID); err != nil {
		return nil, err
	}
	if err := loadBMPs(ctx, q, m); err != nil {
		return nil, err
	}
	if err := loadBoards(ctx, q, m); err != nil {
		return nil, err
	}
	if err := loadDeadLinks(ctx, q, m); err != nil {
		return nil, err
	}
	m.model, err = buildModel(m)
	return m, err
}

func loadBMPs(ctx context.Context, q *db.Queries, m *machine) error {
	rows, err := q.ListBMPsOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	for _, r := range rows {
		b := bmpInfo{id: r.ID, cabinet: int(r.Cabinet), frame: int(r.Frame), address: r.Address}
		if r.UnreachableSince != nil {
			b.unreachable, b.since = true, timeAt(*r.UnreachableSince)
		}
		b.lastErr = derefOr(r.LastError, "")
		m.bmps = append(m.bmps, b)
	}
	return nil
}

func loadBoards(ctx context.Context, q *db.Queries, m *machine) error {
	rows, err := q.ListBoardsOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	n := 3 * m.width * m.height
	m.info, m.boards, m.phys = make([]boardInfo, n), newBoardTable(n), map[Physical]int{}
	for i := range m.info {
		m.info[i].bmp = -1
	}
	for _, r := range rows {
		b := geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)}
		if !m.has(b) {
			continue
		}
		i := m.index(b)
		m.info[i] = boardInfoFromRow(r)
		m.info[i].bmp = m.bmpIndex(m.info[i].bmpID)
		m.boards.chunks[i/boardChunk][i%boardChunk] = boardDynFromRow(r)
		if m.info[i].hasPos {
			m.phys[m.info[i].phys] = i
		}
	}
	return nil
}

func boardInfoFromRow(r db.Board) boardInfo {
	bi := boardInfo{id: r.ID, dead: r.Dead != 0, ip: derefOr(r.Ip, "")}
	if r.BmpID != nil {
		bi.bmpID = *r.BmpID
	}
	if r.Cabinet != nil && r.Frame != nil && r.BoardNum != nil {
		bi.hasPos = true
		bi.phys = Physical{Cabinet: int(*r.Cabinet), Frame: int(*r.Frame), Board: int(*r.BoardNum)}
	}
	return bi
}

func boardDynFromRow(r db.Board) boardDyn {
	d := boardDyn{power: r.Power != 0}
	if r.JobID != nil {
		d.job = *r.JobID
	}
	if r.WaitingJobID != nil {
		d.waiting = *r.WaitingJobID
	}
	if r.WaitingSince != nil {
		d.waitingSince = timeAt(*r.WaitingSince)
	}
	if r.FreeAt != nil {
		d.freeAt = timeAt(*r.FreeAt)
	}
	if r.OutOfService != nil {
		d.oos = nonEmpty(*r.OutOfService)
	}
	return d
}

// nonEmpty keeps "out of service" reasons non-empty (empty means in service).
func nonEmpty(reason string) string {
	if reason == "" {
		return "out of service"
	}
	return reason
}

func loadDeadLinks(ctx context.Context, q *db.Queries, m *machine) error {
	rows, err := q.ListDeadLinksOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	byID := make(map[int64]int, len(m.info))
	for i, bi := range m.info {
		byID[bi.id] = i
	}
	m.deadLinks = nil
	for _, r := range rows {
		if i, ok := byID[r.BoardID]; ok {
			m.deadLinks = append(m.deadLinks, DeadLink{Board: m.board(i), Link: geometry.Link(r.Link)})
		}
	}
	sortDeadLinks(m.deadLinks)
	return nil
}

func sortDeadLinks(l []DeadLink) {
	slices.SortFunc(l, func(a, b DeadLink) int {
		if a.Board != b.Board {
			return compareBoards(a.Board, b.Board)
		}
		return int(a.Link) - int(b.Link)
	})
}

func compareBoards(a, b geometry.Board) int {
	switch {
	case a == b:
		return 0
	case a.Less(b):
		return -1
	}
	return 1
}

func sortBoards(bs []geometry.Board) { slices.SortFunc(bs, compareBoards) }

// loadJobs reads the live jobs into w's machines (their boards, queues
// and reservations), with their client addresses.
func loadJobs(ctx context.Context, q *db.Queries, w *world) (map[int64]*job, map[int64]string, error) {
	rows, err := q.ListLiveJobs(ctx)
	if err != nil {
		return nil, nil, err
	}
	queued, err := q.ListQueuedSince(ctx)
	if err != nil {
		return nil, nil, err
	}
	since := make(map[int64]time.Time, len(queued))
	for _, r := range queued {
		since[r.JobID] = timeAt(r.Since)
	}
	jobs := make(map[int64]*job, len(rows))
	hosts := make(map[int64]string, len(rows))
	for _, r := range rows {
		j, err := jobFromRow(r)
		if err != nil {
			return nil, nil, err
		}
		hosts[j.id] = derefOr(r.KeepaliveHost, "")
		if at, ok := since[j.id]; ok {
			j.queuedSince = at
		}
		jobs[j.id] = j
	}
	attachBoards(w.machines, jobs)
	if err := loadQueues(ctx, q, w, jobs); err != nil {
		return nil, nil, err
	}
	if err := loadReservations(ctx, q, w); err != nil {
		return nil, nil, err
	}
	for _, m := range w.machines {
		m.occ = occupancyOf(m, func(id int64) bool { return jobs[id] != nil && jobs[id].single })
	}
	return jobs, hosts, nil
}

func jobFromRow(r db.Job) (*job, error) {
	j := &job{id: r.ID, owner: r.Owner, keepalive: durationPtr(r.Keepalive), args: json.RawMessage(r.Args),
		kwargs: json.RawMessage(r.Kwargs), createdAt: timeAt(r.CreatedAt), state: JobState(r.State)}
	j.queuedSince = j.createdAt
	if err := json.Unmarshal([]byte(r.Request), &j.req); err != nil {
		return nil, err
	}
	j.areq = j.req.alloc()
	j.power = r.Power != nil && *r.Power != 0
	if r.MachineID != nil {
		j.machine = *r.MachineID
	}
	j.single = r.BlockW == nil
	if !j.single {
		j.block = allocator.Region{X: intOf(r.BlockX), Y: intOf(r.BlockY), W: intOf(r.BlockW), H: intOf(r.BlockH)}
	}
	j.chipW, j.chipH = intOf(r.ChipWidth), intOf(r.ChipHeight)
	j.torus = geometry.Wrap(intOf(r.Torus))
	return j, nil
}

func intOf(p *int64) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// attachBoards gives each allocated job its boards, from the boards table.
func attachBoards(machines []*machine, jobs map[int64]*job) {
	for _, m := range machines {
		for i := range m.info {
			if j := jobs[m.dyn(i).job]; j != nil && j.machine == m.id {
				j.boards = append(j.boards, m.board(i))
			}
		}
	}
	for _, j := range jobs {
		sortBoards(j.boards)
		if j.single && len(j.boards) > 0 {
			j.block = allocator.Region{X: j.boards[0].X, Y: j.boards[0].Y, W: 1, H: 1}
		}
	}
}

func loadQueues(ctx context.Context, q *db.Queries, w *world, jobs map[int64]*job) error {
	rows, err := q.ListQueueEntries(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if m := w.machine(r.MachineID); m != nil && jobs[r.JobID] != nil {
			m.queue = append(m.queue, r.JobID) // rows come sorted by job id
		}
	}
	return nil
}
