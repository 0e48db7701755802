package service

// where_is: where a board or chip is, by logical board, physical slot,
// chip of a machine or chip of a job.

import (
	"context"
	"slices"
	"strings"

	"github.com/spalloc/spallocd/service/geometry"
)

// whereIsForm is one of the four accepted keyword sets.
type whereIsForm int

const (
	whereIsBoard whereIsForm = iota
	whereIsSlot
	whereIsChip
	whereIsJobChip
)

// whereIsForms lists the keyword sets, sorted, in whereIsForm order.
var whereIsForms = [][]string{
	{"machine", "x", "y", "z"},
	{"board", "cabinet", "frame", "machine"},
	{"chip_x", "chip_y", "machine"},
	{"chip_x", "chip_y", "job_id"},
}

// WhereIsUsage names the accepted keyword sets, for transports' help.
const WhereIsUsage = "machine, x, y, z | machine, cabinet, frame, board | machine, chip_x, chip_y | job_id, chip_x, chip_y"

// form finds the query's keyword set; anything else is KindInvalid with
// the names given (sorted).
func (q WhereIsQuery) form() (whereIsForm, error) {
	var names []string
	add := func(name string, given bool) {
		if given {
			names = append(names, name)
		}
	}
	add("machine", q.Machine != nil)
	add("x", q.X != nil)
	add("y", q.Y != nil)
	add("z", q.Z != nil)
	add("cabinet", q.Cabinet != nil)
	add("frame", q.Frame != nil)
	add("board", q.Board != nil)
	add("chip_x", q.ChipX != nil)
	add("chip_y", q.ChipY != nil)
	add("job_id", q.JobID != nil)
	names = append(names, q.Unknown...)
	slices.Sort(names)
	for f, want := range whereIsForms {
		if slices.Equal(names, want) {
			return whereIsForm(f), nil
		}
	}
	return 0, Invalid("Invalid arguments: %s", strings.Join(names, ", "))
}

// WhereIs returns nil when there is no such board (or chip of the job). A
// logical board outside the machine is no board; chip coordinates wrap
// around the machine. The job form counts as a keepalive of the job.
func (s *Service) WhereIs(ctx context.Context, q WhereIsQuery) (*WhereIsResult, error) {
	form, err := q.form()
	if err != nil {
		return nil, err
	}
	w := s.world.Load()
	if form == whereIsJobChip {
		j := w.job(*q.JobID)
		if j == nil {
			return nil, nil
		}
		s.touch(ctx, j.id, q.Host)
		return whereIsJobChipOf(w, j, *q.ChipX, *q.ChipY), nil
	}
	m := w.machineNamed(*q.Machine)
	if m == nil {
		return nil, nil
	}
	var b geometry.Board
	var boardChip [2]int
	switch form {
	case whereIsBoard:
		b = geometry.Board{X: *q.X, Y: *q.Y, Z: *q.Z}
	case whereIsSlot:
		i, ok := m.phys[Physical{Cabinet: *q.Cabinet, Frame: *q.Frame, Board: *q.Board}]
		if !ok {
			return nil, nil
		}
		b = m.board(i)
	default:
		loc, err := geometry.LocateChip(*q.ChipX, *q.ChipY, m.width, m.height)
		if err != nil {
			return nil, nil
		}
		b, boardChip = loc.Board, loc.BoardChip
	}
	if !m.has(b) || m.info[m.index(b)].dead {
		return nil, nil // dead boards have no location
	}
	return locate(w, m, b, boardChip), nil
}

// locate builds the answer for chip boardChip of live board b.
func locate(w *world, m *machine, b geometry.Board, boardChip [2]int) *WhereIsResult {
	i := m.index(b)
	ex, ey := geometry.BoardToChip(b)
	res := &WhereIsResult{Machine: m.name, Logical: b, Physical: m.info[i].phys, BoardChip: boardChip,
		Chip: [2]int{geometry.Mod(ex+boardChip[0], 12*m.width), geometry.Mod(ey+boardChip[1], 12*m.height)}}
	if j := w.job(m.dyn(i).job); j != nil && j.hasBoards() {
		res.JobID = ptr(j.id)
		x, y := geometry.JobChip(b, boardChip[0], boardChip[1], jobOrigin(j), j.chipW, j.chipH)
		res.JobChip = &[2]int{x, y}
	}
	return res
}

// jobOrigin is the per-coordinate minimum of a job's boards: job chip
// coordinates are relative to its Ethernet chip.
func jobOrigin(j *job) geometry.Board {
	o := j.boards[0]
	for _, b := range j.boards[1:] {
		o.X, o.Y, o.Z = min(o.X, b.X), min(o.Y, b.Y), min(o.Z, b.Z)
	}
	return o
}

// whereIsJobChipOf answers the job form: the chip at (x, y) relative to the
// job's origin, wrapped around the machine, if it lies on one of the job's
// boards.
func whereIsJobChipOf(w *world, j *job, x, y int) *WhereIsResult {
	if !j.hasBoards() {
		return nil
	}
	m := w.machine(j.machine)
	if m == nil {
		return nil
	}
	ox, oy := geometry.BoardToChip(jobOrigin(j))
	loc, err := geometry.LocateChip(geometry.Mod(ox+x, 12*m.width), geometry.Mod(oy+y, 12*m.height), m.width, m.height)
	if err != nil || !slices.Contains(j.boards, loc.Board) {
		return nil
	}
	return locate(w, m, loc.Board, loc.BoardChip)
}
