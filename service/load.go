package service

// Rebuilding the in-memory state from the database at Open.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

const keyEmergencyStop = "emergency_stop"

// load reads the database into the mirror. Operations claimed by workers of
// a previous run are unclaimed first, so that they are redone.
func (s *Service) load(ctx context.Context) error {
	if _, err := s.wq.UnclaimAllOps(ctx); err != nil {
		return s.internal("unclaim operations", err)
	}
	if err := s.begin(ctx); err != nil { // one snapshot of everything
		return s.internal("begin load", err)
	}
	defer s.rollback(ctx)
	q := s.wq
	machines, err := loadMachines(ctx, q)
	if err != nil {
		return s.internal("load machines", err)
	}
	jobs, err := loadJobs(ctx, q, machines, s.clock)
	if err != nil {
		return s.internal("load jobs", err)
	}
	stopped, err := loadStopped(ctx, q)
	if err != nil {
		return s.internal("load server state", err)
	}
	if s.answerable, err = q.CountAnswerableDestroyed(ctx); err != nil {
		return s.internal("count destroyed jobs", err)
	}
	if s.ops, err = loadOps(ctx, q); err != nil {
		return s.internal("load BMP operations", err)
	}
	for _, m := range machines {
		m.version = s.nextVersion()
	}
	s.mirror.setMachines(machines)
	s.mirror.jobs = jobs
	s.mirror.stopped = stopped
	return nil
}

// loadOps builds the index of open operations (none is claimed at Open:
// claims are not stored; UnclaimAllOps clears those of older versions).
func loadOps(ctx context.Context, q *db.Queries) (*opIndex, error) {
	rows, err := q.ListOpenOps(ctx)
	if err != nil {
		return nil, err
	}
	x := newOpIndex()
	for _, r := range rows {
		x.add(openOpFromRow(r))
	}
	return x, nil
}

func openOpFromRow(r db.ListOpenOpsRow) *openOp {
	o := &openOp{id: r.ID, bmpID: r.BmpID, boardID: r.BoardID, kind: OpKind(r.Op),
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

func loadMachines(ctx context.Context, q *db.Queries) ([]*machineState, error) {
	rows, err := q.ListLiveMachines(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*machineState, 0, len(rows))
	for _, r := range rows {
		m, err := loadMachine(ctx, q, r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func loadMachine(ctx context.Context, q *db.Queries, r db.Machine) (*machineState, error) {
	m := &machineState{id: r.ID, name: r.Name, priority: int(r.Priority), width: int(r.Width),
		height: int(r.Height), major: r.MajorFingerprint, minor: r.MinorFingerprint, memo: &queueMemo{}}
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

func loadBMPs(ctx context.Context, q *db.Queries, m *machineState) error {
	rows, err := q.ListBMPsOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	for _, r := range rows {
		b := bmpInfo{id: r.ID, cabinet: int(r.Cabinet), frame: int(r.Frame), address: r.Address}
		if r.UnreachableSince != nil {
			b.unreachable, b.downSince = true, *r.UnreachableSince
		}
		if r.LastError != nil {
			b.lastErr = *r.LastError
		}
		m.bmps = append(m.bmps, b)
	}
	return nil
}

func loadBoards(ctx context.Context, q *db.Queries, m *machineState) error {
	rows, err := q.ListBoardsOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	n := 3 * m.width * m.height
	m.info, m.dyn, m.phys = make([]boardInfo, n), make([]boardDyn, n), map[Physical]int{}
	for _, r := range rows {
		b := geometry.Board{X: int(r.X), Y: int(r.Y), Z: int(r.Z)}
		if !m.has(b) {
			continue
		}
		i := m.index(b)
		m.info[i] = boardInfoFromRow(r)
		m.dyn[i] = boardDynFromRow(r)
		if m.info[i].hasPos {
			m.phys[m.info[i].phys] = i
		}
	}
	return nil
}

func boardInfoFromRow(r db.Board) boardInfo {
	bi := boardInfo{id: r.ID, dead: r.Dead != 0}
	if r.BmpID != nil {
		bi.bmpID = *r.BmpID
	}
	if r.Cabinet != nil && r.Frame != nil && r.BoardNum != nil {
		bi.hasPos = true
		bi.phys = Physical{Cabinet: int(*r.Cabinet), Frame: int(*r.Frame), Board: int(*r.BoardNum)}
	}
	if r.Ip != nil {
		bi.ip = *r.Ip
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
		d.waitingSince = *r.WaitingSince
	}
	if r.FreeAt != nil {
		d.freeAt = *r.FreeAt
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

func loadDeadLinks(ctx context.Context, q *db.Queries, m *machineState) error {
	rows, err := q.ListDeadLinksOfMachine(ctx, m.id)
	if err != nil {
		return err
	}
	byID := make(map[int64]int, len(m.info))
	for i, bi := range m.info {
		byID[bi.id] = i
	}
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
			if a.Board.Less(b.Board) {
				return -1
			}
			return 1
		}
		return int(a.Link) - int(b.Link)
	})
}

// buildModel makes the allocator's view of a machine: dead and
// out-of-service boards, and boards of unreachable BMPs, are all dead to it.
func buildModel(m *machineState) (*allocModel, error) {
	var dead []geometry.Board
	down := m.downBMPs()
	for i := range m.info {
		if m.info[i].dead || m.dyn[i].oos != "" || down[m.info[i].bmpID] {
			dead = append(dead, m.board(i))
		}
	}
	links := make([]allocator.BoardLink, len(m.deadLinks))
	for i, l := range m.deadLinks {
		links[i] = allocator.BoardLink{Board: l.Board, Link: l.Link}
	}
	am, err := allocator.NewMachine(m.width, m.height, dead, links)
	if err != nil {
		return nil, err
	}
	return newAllocModel(am), nil
}

// buildOccupancy derives the allocator occupancy from the boards.
func buildOccupancy(m *machineState, jobs map[int64]*jobState) *allocator.Occupancy {
	occ := allocator.NewOccupancy(m.model.m)
	down := m.downBMPs()
	for i, d := range m.dyn {
		occ.Use[i] = boardUse(d, jobs[d.job])
		if occ.Use[i] == allocator.Free && down[m.info[i].bmpID] {
			occ.Use[i] = allocator.Unavailable
		}
	}
	return occ
}

func boardUse(d boardDyn, holder *jobState) allocator.BoardUse {
	switch {
	case d.oos != "":
		return allocator.Unavailable
	case d.job != 0 && holder != nil && holder.single:
		return allocator.HeldSingle
	case d.job != 0:
		return allocator.HeldBlock
	case d.waiting != 0:
		return allocator.Waiting
	}
	return allocator.Free
}

func loadJobs(ctx context.Context, q *db.Queries, machines []*machineState, clock Clock) (map[int64]*jobState, error) {
	rows, err := q.ListLiveJobs(ctx)
	if err != nil {
		return nil, err
	}
	now := clock.Now()
	jobs := make(map[int64]*jobState, len(rows))
	for _, r := range rows {
		j, err := jobFromRow(r)
		if err != nil {
			return nil, err
		}
		j.touch = newTouch(now) // keepalive clocks start afresh (spec §3)
		jobs[j.id] = j
	}
	attachBoards(machines, jobs)
	if err := loadQueues(ctx, q, machines, jobs); err != nil {
		return nil, err
	}
	for _, m := range machines {
		m.occ = buildOccupancy(m, jobs)
	}
	return jobs, nil
}

func jobFromRow(r db.Job) (*jobState, error) {
	j := &jobState{id: r.ID, owner: r.Owner, keepalive: r.Keepalive, args: json.RawMessage(r.Args),
		kwargs: json.RawMessage(r.Kwargs), createdAt: r.CreatedAt, state: JobState(r.State)}
	if err := json.Unmarshal([]byte(r.Request), &j.req); err != nil {
		return nil, err
	}
	j.areq = j.req.alloc()
	j.power = r.Power != nil && *r.Power != 0
	if r.MachineID != nil {
		j.machine = *r.MachineID
	}
	j.single = r.BlockW == nil
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
func attachBoards(machines []*machineState, jobs map[int64]*jobState) {
	for _, m := range machines {
		for i, d := range m.dyn {
			if j := jobs[d.job]; j != nil && j.machine == m.id {
				j.boards = append(j.boards, m.board(i))
			}
		}
	}
	for _, j := range jobs {
		sortBoards(j.boards)
	}
}

func sortBoards(bs []geometry.Board) {
	slices.SortFunc(bs, func(a, b geometry.Board) int {
		switch {
		case a == b:
			return 0
		case a.Less(b):
			return -1
		}
		return 1
	})
}

func loadQueues(ctx context.Context, q *db.Queries, machines []*machineState, jobs map[int64]*jobState) error {
	rows, err := q.ListQueueEntries(ctx)
	if err != nil {
		return err
	}
	byID := map[int64]*machineState{}
	for _, m := range machines {
		byID[m.id] = m
	}
	for _, r := range rows {
		if m := byID[r.MachineID]; m != nil && jobs[r.JobID] != nil {
			m.queue = append(m.queue, r.JobID) // rows come sorted by job id
		}
	}
	return nil
}
