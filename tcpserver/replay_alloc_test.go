package tcpserver_test

// Allocation-dependent values of a replay (README "How a replay test
// should compare" 6): when spallocd places a job elsewhere than the
// original did, boards, connections, sizes and where_is answers about jobs
// are checked for consistency with spallocd's own placement instead of
// being compared with the recording. One deliberate difference: among
// otherwise equal positions spallocd takes the one that gives the job more
// working boards (issue 17.1), so a job may hold more boards than the
// original gave it (never fewer).

import (
	"fmt"
	"reflect"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// machineFacts are what the consistency checks need of a machine.
type machineFacts struct {
	w, h int // triads
	ip   map[geometry.Board]string
	dead map[geometry.Board]bool
}

func (r *replayer) facts(name string) (machineFacts, error) {
	d, err := r.h.svc.MachineDetail(bg, name)
	if err != nil || d == nil {
		return machineFacts{}, fmt.Errorf("machine %q: %v", name, err)
	}
	f := machineFacts{w: d.Width, h: d.Height, ip: map[geometry.Board]string{}, dead: map[geometry.Board]bool{}}
	for _, b := range d.Boards {
		f.ip[b.Board] = b.IP
		f.dead[b.Board] = b.Dead
	}
	return f, nil
}

// liveJob returns spallocd's placement of a live job (read without
// touching it), or nil.
func (r *replayer) liveJob(id int64) *service.JobSummary {
	jobs, err := r.h.svc.ListJobs(bg)
	if err != nil {
		r.t.Fatalf("list jobs: %v", err)
	}
	for _, j := range jobs {
		if j.ID == id && j.MachineName != nil {
			return &j
		}
	}
	return nil
}

// jobOn returns the live job holding board b of machine m, or nil.
func (r *replayer) jobOn(m string, b geometry.Board) *service.JobSummary {
	jobs, err := r.h.svc.ListJobs(bg)
	if err != nil {
		r.t.Fatalf("list jobs: %v", err)
	}
	for _, j := range jobs {
		if j.MachineName != nil && *j.MachineName == m {
			for _, jb := range j.Boards {
				if jb == b {
					return &j
				}
			}
		}
	}
	return nil
}

func toBoards(v any) ([]geometry.Board, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]geometry.Board, 0, len(list))
	for _, e := range list {
		xyz, ok := e.([]any)
		if !ok || len(xyz) != 3 {
			return nil, false
		}
		out = append(out, geometry.Board{X: num(xyz[0]), Y: num(xyz[1]), Z: num(xyz[2])})
	}
	return out, true
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func pair(x, y int) []any { return []any{float64(x), float64(y)} }

// jobSize is the size in chips of a job on the given boards (docs/geometry.md,
// "Sizes in chips").
func jobSize(boards []geometry.Board, f machineFacts) (int, int) {
	if len(boards) == 1 {
		return 8, 8
	}
	minX, maxX, minY, maxY := boards[0].X, boards[0].X, boards[0].Y, boards[0].Y
	for _, b := range boards {
		minX, maxX = min(minX, b.X), max(maxX, b.X)
		minY, maxY = min(minY, b.Y), max(maxY, b.Y)
	}
	wt, ht := maxX-minX+1, maxY-minY+1
	var wrap geometry.Wrap
	if wt == f.w {
		wrap |= geometry.WrapX
	}
	if ht == f.h {
		wrap |= geometry.WrapY
	}
	return geometry.TriadsToChips(wt, ht, wrap)
}

// relChip is board b's Ethernet chip relative to origin, wrapped.
func relChip(b, origin geometry.Board, f machineFacts) (int, int) {
	bx, by := geometry.BoardToChip(b)
	ox, oy := geometry.BoardToChip(origin)
	return geometry.Mod(bx-ox, 12*f.w), geometry.Mod(by-oy, 12*f.h)
}

// checkMachineInfo: a get_job_machine_info reply for a job placed
// elsewhere must describe that placement correctly.
func (r *replayer) checkMachineInfo(want, have any) error {
	w, _ := want.(map[string]any)
	h, _ := have.(map[string]any)
	if w == nil || h == nil || w["boards"] == nil || h["boards"] == nil {
		return fmt.Errorf("one of the replies has no boards")
	}
	wb, _ := toBoards(w["boards"])
	hb, ok := toBoards(h["boards"])
	if !ok || len(hb) < len(wb) {
		return fmt.Errorf("%d boards, recorded %d", len(hb), len(wb))
	}
	name, _ := h["machine_name"].(string)
	if name != w["machine_name"] {
		return fmt.Errorf("machine %q, recorded %v", name, w["machine_name"])
	}
	f, err := r.facts(name)
	if err != nil {
		return err
	}
	seen := map[geometry.Board]bool{}
	origin := hb[0]
	for _, b := range hb {
		if seen[b] || !b.InMachine(f.w, f.h) || f.dead[b] || f.ip[b] == "" {
			return fmt.Errorf("board %v is repeated, outside the machine, dead or unknown", b)
		}
		seen[b] = true
		if b.Less(origin) {
			origin = b
		}
	}
	cw, ch := jobSize(hb, f)
	if num(h["width"]) != cw || num(h["height"]) != ch {
		return fmt.Errorf("size %vx%v, want %dx%d for boards %v", h["width"], h["height"], cw, ch, hb)
	}
	var conns []any
	for _, b := range hb {
		x, y := relChip(b, origin, f)
		conns = append(conns, []any{pair(x, y), f.ip[b]})
	}
	if !reflect.DeepEqual(sortedSet(conns), h["connections"]) {
		return fmt.Errorf("connections %s, want %s", jsonString(h["connections"]), jsonString(sortedSet(conns)))
	}
	return nil
}

// checkListJobs: list_jobs equal to the recording except where a job's
// boards differ, which must then be at least as many as recorded.
func (r *replayer) checkListJobs(want, have any) error {
	wl, _ := want.([]any)
	hl, _ := have.([]any)
	if len(wl) != len(hl) {
		return fmt.Errorf("%d jobs, recorded %d", len(hl), len(wl))
	}
	for i := range wl {
		w, h := clone(wl[i]), clone(hl[i])
		wb, _ := w["boards"].([]any)
		hb, _ := h["boards"].([]any)
		if len(hb) < len(wb) {
			return fmt.Errorf("job %v: %d boards, recorded %d", h["job_id"], len(hb), len(wb))
		}
		delete(w, "boards")
		delete(h, "boards")
		if !reflect.DeepEqual(w, h) {
			return fmt.Errorf("job %v differs beyond its boards", h["job_id"])
		}
	}
	return nil
}

func clone(v any) map[string]any {
	m, _ := v.(map[string]any)
	out := map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	return out
}

// checkWhereIs: a where_is answer that involves a job must agree with
// spallocd's placement of the jobs; the parts about the board itself must
// still equal the recording (machine forms) or the machine-form answer for
// the same chip (job form).
func (r *replayer) checkWhereIs(q request, want, have any) error {
	h, _ := have.(map[string]any)
	if _, byJob := q.Kwargs["job_id"]; byJob {
		return r.checkWhereIsJob(q, h)
	}
	w, _ := want.(map[string]any)
	if w == nil || h == nil {
		return fmt.Errorf("board presence differs")
	}
	for _, k := range []string{"machine", "logical", "physical", "chip", "board_chip"} {
		if !reflect.DeepEqual(w[k], h[k]) {
			return fmt.Errorf("%s differs", k)
		}
	}
	return r.checkJobFields(h)
}

// checkJobFields: job_id and job_chip name the live job on the board.
func (r *replayer) checkJobFields(h map[string]any) error {
	m, _ := h["machine"].(string)
	lb, _ := toBoards([]any{h["logical"]})
	j := r.jobOn(m, lb[0])
	if j == nil {
		if h["job_id"] != nil || h["job_chip"] != nil {
			return fmt.Errorf("job %v named on a board no job holds", h["job_id"])
		}
		return nil
	}
	f, err := r.facts(m)
	if err != nil {
		return err
	}
	origin := perCoordinateMin(j.Boards)
	ox, oy := geometry.BoardToChip(origin)
	chip, _ := h["chip"].([]any)
	jx, jy := geometry.Mod(num(chip[0])-ox, 12*f.w), geometry.Mod(num(chip[1])-oy, 12*f.h)
	if num(h["job_id"]) != int(j.ID) || !reflect.DeepEqual(h["job_chip"], pair(jx, jy)) {
		return fmt.Errorf("job fields %v %v, want job %d chip [%d,%d]", h["job_id"], h["job_chip"], j.ID, jx, jy)
	}
	return nil
}

func perCoordinateMin(bs []geometry.Board) geometry.Board {
	o := bs[0]
	for _, b := range bs {
		o.X, o.Y, o.Z = min(o.X, b.X), min(o.Y, b.Y), min(o.Z, b.Z)
	}
	return o
}

// checkWhereIsJob: the job form names the board of the job that holds the
// chip, or null when no board of the job does.
func (r *replayer) checkWhereIsJob(q request, h map[string]any) error {
	var id int64
	var cx, cy int
	fmt.Sscan(string(q.Kwargs["job_id"]), &id)
	fmt.Sscan(string(q.Kwargs["chip_x"]), &cx)
	fmt.Sscan(string(q.Kwargs["chip_y"]), &cy)
	j := r.liveJob(id)
	if j == nil {
		if h != nil {
			return fmt.Errorf("an answer for a job with no boards")
		}
		return nil
	}
	f, err := r.facts(*j.MachineName)
	if err != nil {
		return err
	}
	ox, oy := geometry.BoardToChip(perCoordinateMin(j.Boards))
	mx, my := geometry.Mod(ox+cx, 12*f.w), geometry.Mod(oy+cy, 12*f.h)
	byChip, err := r.h.svc.WhereIs(bg, service.WhereIsQuery{Machine: j.MachineName, ChipX: &mx, ChipY: &my})
	if err != nil {
		return err
	}
	holds := false
	if byChip != nil {
		for _, b := range j.Boards {
			holds = holds || b == byChip.Logical
		}
	}
	if !holds {
		if h != nil {
			return fmt.Errorf("chip (%d,%d) of job %d is on no board of the job, yet answered", cx, cy, id)
		}
		return nil
	}
	if h == nil {
		return fmt.Errorf("chip (%d,%d) of job %d is on its board %v, yet null", cx, cy, id, byChip.Logical)
	}
	l := byChip.Logical
	p := byChip.Physical
	want := map[string]any{
		"machine":    *j.MachineName,
		"logical":    []any{float64(l.X), float64(l.Y), float64(l.Z)},
		"physical":   []any{float64(p.Cabinet), float64(p.Frame), float64(p.Board)},
		"chip":       pair(mx, my),
		"board_chip": pair(byChip.BoardChip[0], byChip.BoardChip[1]),
		"job_id":     float64(id),
		"job_chip":   pair(cx, cy),
	}
	if !reflect.DeepEqual(want, h) {
		return fmt.Errorf("want %s", jsonString(want))
	}
	return nil
}
