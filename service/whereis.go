package service

// where_is (geometry.md §4.9, behaviour-cases WHERE) and report_problem.

import (
	"context"
	"strings"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/geometry"
)

// WhereIs returns nil when there is no such board (or chip of the job).
// The job form counts as a keepalive of the job.
func (s *Service) WhereIs(ctx context.Context, q WhereIsQuery) (*WhereIsResult, error) {
	if err := checkWhereIs(q); err != nil {
		return nil, err
	}
	if q.JobID != nil {
		return s.whereIsJobChip(*q.JobID, q.Chip, q.Host), nil
	}
	s.mirror.mu.RLock()
	m := s.mirror.byName[q.Machine]
	jobs := s.mirror.jobs
	var res *WhereIsResult
	if m != nil {
		res = whereIsOnMachine(m, q, jobs)
	}
	s.mirror.mu.RUnlock()
	return res, nil
}

// checkWhereIs accepts exactly the four forms (WHERE-09).
func checkWhereIs(q WhereIsQuery) error {
	n := 0
	for _, given := range []bool{q.Board != nil, q.Physical != nil, q.Chip != nil} {
		if given {
			n++
		}
	}
	switch {
	case q.JobID != nil && q.Chip != nil && q.Board == nil && q.Physical == nil && q.Machine == "":
		return nil
	case q.JobID == nil && q.Machine != "" && n == 1:
		return nil
	}
	return Invalid("Invalid arguments: %s", strings.Join(whereIsKeys(q), ", "))
}

func whereIsKeys(q WhereIsQuery) []string {
	var keys []string
	if q.Machine != "" {
		keys = append(keys, "machine")
	}
	if q.JobID != nil {
		keys = append(keys, "job_id")
	}
	if q.Board != nil {
		keys = append(keys, "x", "y", "z")
	}
	if q.Physical != nil {
		keys = append(keys, "cabinet", "frame", "board")
	}
	if q.Chip != nil {
		keys = append(keys, "chip_x", "chip_y")
	}
	return keys
}

// whereIsOnMachine answers the three machine forms. Dead boards have no
// location (WHERE-07).
func whereIsOnMachine(m *machineState, q WhereIsQuery, jobs map[int64]*jobState) *WhereIsResult {
	var b geometry.Board
	var boardChip [2]int
	switch {
	case q.Board != nil:
		b = *q.Board
	case q.Physical != nil:
		i, ok := m.phys[*q.Physical]
		if !ok {
			return nil
		}
		b = m.board(i)
	default:
		loc, err := geometry.LocateChip(q.Chip[0], q.Chip[1], m.width, m.height)
		if err != nil {
			return nil
		}
		b, boardChip = loc.Board, loc.BoardChip
	}
	if !m.has(b) || m.info[m.index(b)].dead {
		return nil
	}
	return locate(m, b, boardChip, jobs)
}

// locate builds the answer for chip boardChip of live board b.
func locate(m *machineState, b geometry.Board, boardChip [2]int, jobs map[int64]*jobState) *WhereIsResult {
	i := m.index(b)
	ex, ey := geometry.BoardToChip(b)
	res := &WhereIsResult{Machine: m.name, Logical: b, Physical: m.info[i].phys, BoardChip: boardChip,
		Chip: [2]int{geometry.Mod(ex+boardChip[0], 12*m.width), geometry.Mod(ey+boardChip[1], 12*m.height)}}
	if j := jobs[m.dyn[i].job]; j != nil && j.hasBoards() {
		id := j.id
		res.JobID = &id
		x, y := geometry.JobChip(b, boardChip[0], boardChip[1], jobOrigin(j), j.chipW, j.chipH)
		res.JobChip = &[2]int{x, y}
	}
	return res
}

// jobOrigin is the component-wise minimum of a job's boards (geometry.md
// §4.9, job chip coordinates).
func jobOrigin(j *jobState) geometry.Board {
	o := j.boards[0]
	for _, b := range j.boards[1:] {
		o.X, o.Y, o.Z = min(o.X, b.X), min(o.Y, b.Y), min(o.Z, b.Z)
	}
	return o
}

// whereIsJobChip answers the job form: the chip at job-relative (x, y), if
// it lies on one of the job's boards. Coordinates wrap on the axes where the
// job has wrap-around links (a job without them has chips only inside its
// rectangle).
func (s *Service) whereIsJobChip(id int64, chip *[2]int, host string) *WhereIsResult {
	j := s.mirror.job(id)
	s.touch(j, host)
	if j == nil || !j.hasBoards() {
		return nil
	}
	m := s.mirror.machineByID(j.machine)
	if m == nil {
		return nil
	}
	wrapX, wrapY := wrapper(j.torus.HasX(), j.chipW), wrapper(j.torus.HasY(), j.chipH)
	jx, jy := wrapX(chip[0]), wrapY(chip[1])
	origin := jobOrigin(j)
	for _, b := range j.boards {
		ex, ey := geometry.JobChip(b, 0, 0, origin, j.chipW, j.chipH)
		lx, ly := wrapX(jx-ex), wrapY(jy-ey)
		if geometry.OnBoard(lx, ly) {
			return locate(m, b, [2]int{lx, ly}, map[int64]*jobState{j.id: j})
		}
	}
	return nil
}

// wrapper wraps a coordinate modulo n on a wrapping axis and leaves it
// alone on another.
func wrapper(wraps bool, n int) func(int) int {
	if wraps {
		return func(v int) int { return geometry.Mod(v, n) }
	}
	return func(v int) int { return v }
}

// ReportProblem records a user's report about the board with the given IP
// address (and optionally a chip and core of it).
func (s *Service) ReportProblem(ctx context.Context, r ProblemReport) error {
	s.mirror.mu.RLock()
	ref, ok := s.mirror.byIP[r.IP]
	var boardID, job int64
	if ok {
		m := s.mirror.byID[ref.machine]
		boardID, job = m.info[ref.index].id, m.dyn[ref.index].job
	}
	s.mirror.mu.RUnlock()
	if !ok {
		return NotFound("No board has the address %q.", r.IP)
	}
	return s.write(ctx, func(t *tx) error {
		err := t.q.InsertBoardReport(t.ctx, db.InsertBoardReportParams{BoardID: &boardID, Ip: r.IP, JobID: jobRef(job),
			ChipX: int64Ptr(r.ChipX), ChipY: int64Ptr(r.ChipY), Core: int64Ptr(r.Core), Description: r.Description,
			Reporter: strPtr(r.Host), ReportedAt: t.at})
		if err != nil {
			return t.dbErr("record problem report", err)
		}
		t.logf("problem reported", "ip", r.IP, "job", job, "description", r.Description)
		return nil
	})
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}
