package service_test

// Behaviour cases WHERE, PROTO-07 (list_machines) and PROTO-08 (board
// positions).

import (
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

func big() string {
	g := grid("big", 4, 2)
	g.Scale = 10
	return testutil.GridTOML(g)
}

// The four where_is forms.
func chipQ(machine string, x, y int) service.WhereIsQuery {
	return service.WhereIsQuery{Machine: &machine, ChipX: &x, ChipY: &y}
}
func boardQ(machine string, b geometry.Board) service.WhereIsQuery {
	return service.WhereIsQuery{Machine: &machine, X: &b.X, Y: &b.Y, Z: &b.Z}
}
func slotQ(machine string, c, f, b int) service.WhereIsQuery {
	return service.WhereIsQuery{Machine: &machine, Cabinet: &c, Frame: &f, Board: &b}
}
func jobChipQ(id int64, x, y int) service.WhereIsQuery {
	return service.WhereIsQuery{JobID: &id, ChipX: &x, ChipY: &y}
}

func (e *env) whereChip(machine string, x, y int) *service.WhereIsResult {
	e.t.Helper()
	r, err := e.WhereIs(e.ctx, chipQ(machine, x, y))
	if err != nil {
		e.t.Fatalf("where_is chip (%d,%d): %v", x, y, err)
	}
	return r
}

func (e *env) whereBoard(machine string, b geometry.Board) *service.WhereIsResult {
	e.t.Helper()
	r, err := e.WhereIs(e.ctx, boardQ(machine, b))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) wherePhys(machine string, c, f, b int) *service.WhereIsResult {
	e.t.Helper()
	r, err := e.WhereIs(e.ctx, slotQ(machine, c, f, b))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) whereJob(id int64, x, y int) *service.WhereIsResult {
	e.t.Helper()
	r, err := e.WhereIs(e.ctx, jobChipQ(id, x, y))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func b3(x, y, z int) geometry.Board { return geometry.Board{X: x, Y: y, Z: z} }

// WHERE-01 to WHERE-04.
func TestWHEREByMachineChip(t *testing.T) {
	e := newEnv(t, big())
	cases := []struct {
		x, y      int
		logical   geometry.Board
		chip      [2]int
		boardChip [2]int
		phys      service.Physical
	}{
		{0, 0, b3(0, 0, 0), [2]int{0, 0}, [2]int{0, 0}, service.Physical{}},
		{1, 1, b3(0, 0, 0), [2]int{1, 1}, [2]int{1, 1}, service.Physical{}},
		{3, 3, b3(0, 0, 0), [2]int{3, 3}, [2]int{3, 3}, service.Physical{}},
		{7, 7, b3(0, 0, 0), [2]int{7, 7}, [2]int{7, 7}, service.Physical{}},
		{0, 4, b3(3, 0, 1), [2]int{0, 4}, [2]int{4, 0}, service.Physical{Cabinet: 30, Board: 10}},
		{44, 4, b3(3, 0, 1), [2]int{44, 4}, [2]int{0, 0}, service.Physical{Cabinet: 30, Board: 10}},
		{3, 11, b3(3, 0, 1), [2]int{3, 11}, [2]int{7, 7}, service.Physical{Cabinet: 30, Board: 10}},
		{5, 0, b3(0, 1, 2), [2]int{5, 0}, [2]int{1, 4}, service.Physical{Frame: 10, Board: 20}},
		{4, 20, b3(0, 1, 2), [2]int{4, 20}, [2]int{0, 0}, service.Physical{Frame: 10, Board: 20}},
		{0, 12, b3(0, 1, 0), [2]int{0, 12}, [2]int{0, 0}, service.Physical{Frame: 10}},
		{36, 12, b3(3, 1, 0), [2]int{36, 12}, [2]int{0, 0}, service.Physical{Cabinet: 30, Frame: 10}},
		{-1, -1, b3(3, 1, 2), [2]int{47, 23}, [2]int{7, 3}, service.Physical{Cabinet: 30, Frame: 10, Board: 20}},
		{32, 10, b3(2, 0, 2), [2]int{32, 10}, [2]int{4, 2}, service.Physical{Cabinet: 20, Board: 20}},
		{-1, 0, b3(3, 1, 2), [2]int{47, 0}, [2]int{7, 4}, service.Physical{Cabinet: 30, Frame: 10, Board: 20}},
		{0, -1, b3(3, 1, 1), [2]int{0, 23}, [2]int{4, 7}, service.Physical{Cabinet: 30, Frame: 10, Board: 10}},
		{0, 24, b3(0, 0, 0), [2]int{0, 0}, [2]int{0, 0}, service.Physical{}},
		{48, 0, b3(0, 0, 0), [2]int{0, 0}, [2]int{0, 0}, service.Physical{}},
		{4, 7, b3(0, 0, 0), [2]int{4, 7}, [2]int{4, 7}, service.Physical{}},
		{7, 4, b3(0, 0, 0), [2]int{7, 4}, [2]int{7, 4}, service.Physical{}},
		{8, 4, b3(0, 0, 1), [2]int{8, 4}, [2]int{0, 0}, service.Physical{Board: 10}},
		{4, 8, b3(0, 0, 2), [2]int{4, 8}, [2]int{0, 0}, service.Physical{Board: 20}},
	}
	for _, c := range cases {
		r := e.whereChip("big", c.x, c.y)
		if r == nil || r.Machine != "big" || r.Logical != c.logical || r.Chip != c.chip || r.BoardChip != c.boardChip ||
			r.Physical != c.phys || r.JobID != nil || r.JobChip != nil {
			t.Errorf("chip (%d,%d): %+v, want %v chip %v board chip %v physical %v", c.x, c.y, r, c.logical, c.chip, c.boardChip, c.phys)
		}
	}
}

// WHERE-05 and WHERE-06.
func TestWHEREByBoardAndPosition(t *testing.T) {
	e := newEnv(t, big())
	cases := []struct {
		b    geometry.Board
		chip [2]int
		phys service.Physical
	}{
		{b3(0, 0, 0), [2]int{0, 0}, service.Physical{}},
		{b3(0, 0, 1), [2]int{8, 4}, service.Physical{Board: 10}},
		{b3(0, 0, 2), [2]int{4, 8}, service.Physical{Board: 20}},
		{b3(3, 1, 2), [2]int{40, 20}, service.Physical{Cabinet: 30, Frame: 10, Board: 20}},
		{b3(2, 1, 1), [2]int{32, 16}, service.Physical{Cabinet: 20, Frame: 10, Board: 10}},
	}
	for _, c := range cases {
		for _, r := range []*service.WhereIsResult{e.whereBoard("big", c.b), e.wherePhys("big", c.phys.Cabinet, c.phys.Frame, c.phys.Board)} {
			if r == nil || r.Logical != c.b || r.Chip != c.chip || r.BoardChip != [2]int{} || r.Physical != c.phys {
				t.Errorf("board %v: %+v", c.b, r)
			}
		}
	}
	if r := e.wherePhys("big", 9001, 9001, 9001); r != nil {
		t.Errorf("no such slot: %+v", r)
	}
	if r := e.wherePhys("big", 0, 0, 5); r != nil {
		t.Errorf("no such slot: %+v", r)
	}
	if r := e.whereBoard("big", b3(4, 0, 0)); r != nil {
		t.Errorf("board outside: %+v", r)
	}
}

func TestWHERE07DeadBoardsHaveNoLocation(t *testing.T) {
	toml := `[[machine]]
name = "holey"
width = 4
height = 2
dead_boards = [[2, 1, 0]]
standard_ips = { base_ip = "10.2.0.0" }
boards = [
` + holeyBoards() + `]
`
	e := newEnv(t, toml)
	if r := e.whereChip("holey", 24, 12); r != nil {
		t.Errorf("chip on dead board: %+v", r)
	}
	if r := e.whereChip("holey", 26, 13); r != nil {
		t.Errorf("chip on dead board: %+v", r)
	}
	if r := e.whereBoard("holey", b3(2, 1, 0)); r != nil {
		t.Errorf("dead board: %+v", r)
	}
	if r := e.wherePhys("holey", 20, 10, 0); r != nil {
		t.Errorf("dead board's slot: %+v", r)
	}
	r := e.whereBoard("holey", b3(2, 1, 1))
	want := service.WhereIsResult{Machine: "holey", Logical: b3(2, 1, 1), Physical: service.Physical{Cabinet: 20, Frame: 10, Board: 10}, Chip: [2]int{32, 16}}
	if r == nil || *r != want {
		t.Errorf("neighbour: %+v", r)
	}
}

func holeyBoards() string {
	s := ""
	for x := range 4 {
		for y := range 2 {
			for z := range 3 {
				if x == 2 && y == 1 && z == 0 {
					continue
				}
				s += "  { xyz = [" + itoa(x) + ", " + itoa(y) + ", " + itoa(z) + "], cfb = [" + itoa(10*x) + ", " + itoa(10*y) + ", " + itoa(10*z) + "] },\n"
			}
		}
	}
	return s
}

func TestWHERE08UnknownMachineOrJob(t *testing.T) {
	e := newEnv(t, big())
	if e.whereChip("bad", 0, 0) != nil || e.whereBoard("bad", b3(0, 0, 0)) != nil || e.wherePhys("bad", 0, 0, 0) != nil || e.whereJob(99, 0, 0) != nil {
		t.Fatal("unknown machine or job located")
	}
}

func TestWHERE09OnlyFourKeywordSets(t *testing.T) {
	e := newEnv(t, big())
	id, zero, name := int64(1), 0, "big"
	withBoard := func(q service.WhereIsQuery) service.WhereIsQuery {
		q.X, q.Y, q.Z = &zero, &zero, &zero
		return q
	}
	noZ := boardQ("big", b3(0, 0, 0))
	noZ.Z = nil
	unknown := boardQ("big", b3(0, 0, 0))
	unknown.Unknown = []string{"w"}
	cases := []struct {
		q    service.WhereIsQuery
		keys string // sorted
	}{
		{service.WhereIsQuery{}, ""},
		{noZ, "machine, x, y"},
		{withBoard(chipQ("big", 0, 0)), "chip_x, chip_y, machine, x, y, z"},
		{withBoard(service.WhereIsQuery{JobID: &id}), "job_id, x, y, z"},
		{service.WhereIsQuery{Machine: &name}, "machine"},
		{service.WhereIsQuery{Machine: &name, JobID: &id, ChipX: &zero, ChipY: &zero}, "chip_x, chip_y, job_id, machine"},
		{unknown, "machine, w, x, y, z"},
	}
	for _, c := range cases {
		_, err := e.WhereIs(e.ctx, c.q)
		if service.KindOf(err) != service.KindInvalid || service.UserMessage(err) != "Invalid arguments: "+c.keys {
			t.Errorf("%+v: %v", c.q, err)
		}
	}
}

// forcedPlacement is WHERE-10's set-up: jobs 1, 2, 3 on "big".
func forcedPlacement(t *testing.T) *env {
	e := newEnv(t, big())
	e.create(board(2, 0, 0))
	e.create(board(3, 1, 2))
	j3 := e.create(rect(2, 2))
	info := e.info(j3)
	if len(info.Boards) != 12 || info.Width != 28 || info.Height != 24 {
		t.Fatalf("job 3: %+v", info)
	}
	return e
}

func TestWHERE10JobsOnTheBoards(t *testing.T) {
	e := forcedPlacement(t)
	cases := []struct {
		x, y    int
		logical geometry.Board
		job     int64 // 0 = none
		jobChip [2]int
	}{
		{0, 0, b3(0, 0, 0), 3, [2]int{0, 0}},
		{0, 12, b3(0, 1, 0), 3, [2]int{0, 12}},
		{8, 23, b3(0, 1, 2), 3, [2]int{8, 23}},
		{19, 19, b3(1, 1, 0), 3, [2]int{19, 19}},
		{8, 2, b3(0, 1, 2), 3, [2]int{8, 2}},
		{0, 4, b3(3, 0, 1), 0, [2]int{}},
		{3, 23, b3(3, 1, 1), 0, [2]int{}},
		{40, 20, b3(3, 1, 2), 2, [2]int{0, 0}},
		{4, 8, b3(0, 0, 2), 3, [2]int{4, 8}},
		{8, 4, b3(0, 0, 1), 3, [2]int{8, 4}},
		{23, 23, b3(1, 1, 2), 3, [2]int{23, 23}},
		{27, 23, b3(1, 1, 1), 3, [2]int{27, 23}},
		{28, 23, b3(2, 1, 2), 0, [2]int{}},
		{24, 0, b3(2, 0, 0), 1, [2]int{0, 0}},
		{24, 12, b3(2, 1, 0), 0, [2]int{}},
	}
	for _, c := range cases {
		r := e.whereChip("big", c.x, c.y)
		ok := r != nil && r.Logical == c.logical
		if ok && c.job == 0 {
			ok = r.JobID == nil && r.JobChip == nil
		} else if ok {
			ok = r.JobID != nil && *r.JobID == c.job && r.JobChip != nil && *r.JobChip == c.jobChip
		}
		if !ok {
			t.Errorf("chip (%d,%d): %+v (job %v chip %v), want %v job %d chip %v", c.x, c.y, r,
				ptrStr(jobIDOf(r)), ptrStr(jobChipOf(r)), c.logical, c.job, c.jobChip)
		}
	}
}

func jobIDOf(r *service.WhereIsResult) *int64 {
	if r == nil {
		return nil
	}
	return r.JobID
}

func jobChipOf(r *service.WhereIsResult) *[2]int {
	if r == nil {
		return nil
	}
	return r.JobChip
}

func TestWHERE11ByJobChip(t *testing.T) {
	e := forcedPlacement(t)
	type want struct {
		logical   geometry.Board
		phys      service.Physical
		chip      [2]int
		boardChip [2]int
	}
	cases := []struct {
		job  int64
		x, y int
		want *want
	}{
		{3, 0, 0, &want{b3(0, 0, 0), service.Physical{}, [2]int{0, 0}, [2]int{0, 0}}},
		{3, 27, 23, &want{b3(1, 1, 1), service.Physical{Cabinet: 10, Frame: 10, Board: 10}, [2]int{27, 23}, [2]int{7, 7}}},
		{3, 5, 9, &want{b3(0, 0, 2), service.Physical{Board: 20}, [2]int{5, 9}, [2]int{1, 1}}},
		{3, 28, 23, nil},
		{3, 24, 0, nil},
		{2, 0, 0, &want{b3(3, 1, 2), service.Physical{Cabinet: 30, Frame: 10, Board: 20}, [2]int{40, 20}, [2]int{0, 0}}},
		{2, 7, 3, &want{b3(3, 1, 2), service.Physical{Cabinet: 30, Frame: 10, Board: 20}, [2]int{47, 23}, [2]int{7, 3}}},
		{1, 0, 0, &want{b3(2, 0, 0), service.Physical{Cabinet: 20}, [2]int{24, 0}, [2]int{0, 0}}},
		{1, 7, 7, &want{b3(2, 0, 0), service.Physical{Cabinet: 20}, [2]int{31, 7}, [2]int{7, 7}}},
		{1, 8, 4, nil},
		{1, 4, 8, nil},
	}
	for _, c := range cases {
		r := e.whereJob(c.job, c.x, c.y)
		if c.want == nil {
			if r != nil {
				t.Errorf("job %d chip (%d,%d): %+v, want null", c.job, c.x, c.y, r)
			}
			continue
		}
		w := c.want
		if r == nil || r.Logical != w.logical || r.Physical != w.phys || r.Chip != w.chip || r.BoardChip != w.boardChip ||
			r.JobID == nil || *r.JobID != c.job || r.JobChip == nil || *r.JobChip != [2]int{c.x, c.y} {
			t.Errorf("job %d chip (%d,%d): %+v, want %+v", c.job, c.x, c.y, r, *w)
		}
	}
}

func dual() string {
	m0 := grid("m0", 1, 2)
	m0.Scale, m0.BMPPrefix, m0.BoardPrefix = 10, "10.0", "11"
	m1 := grid("m1", 3, 4)
	m1.Scale, m1.BMPPrefix, m1.BoardPrefix = 10, "12.0", "13"
	m1.DeadBoards = []geometry.Board{b3(0, 0, 1)}
	m1.DeadLinks = []testutil.DeadLinkSpec{{Board: b3(1, 1, 1), Link: geometry.North}}
	return testutil.GridTOML(m0) + testutil.GridTOML(m1)
}

func TestWHERE12RelativeToTheJob(t *testing.T) {
	e := newEnv(t, dual())
	id := e.create(rect(1, 1))
	x0, y0 := e.boards(id)[0].X, e.boards(id)[0].Y
	r := e.whereJob(id, 5, 9)
	if r == nil || r.Machine != "m0" || r.Logical != b3(x0, y0, 2) || r.Physical != (service.Physical{Frame: 10 * y0, Board: 20}) ||
		r.Chip != [2]int{12*x0 + 5, 12*y0 + 9} || r.BoardChip != [2]int{1, 1} || *r.JobID != id || *r.JobChip != [2]int{5, 9} {
		t.Fatalf("job chip: %+v", r)
	}
	r = e.whereBoard("m1", b3(2, 1, 1))
	want := service.WhereIsResult{Machine: "m1", Logical: b3(2, 1, 1), Physical: service.Physical{Cabinet: 20, Frame: 10, Board: 10}, Chip: [2]int{32, 16}}
	if r == nil || *r != want {
		t.Fatalf("m1 board: %+v", r)
	}
	e.destroy(id)
	if r := e.whereBoard("m0", b3(x0, y0, 2)); r == nil || r.JobID != nil {
		t.Fatalf("after destroy: %+v", r)
	}
	if r := e.whereJob(id, 5, 9); r != nil {
		t.Fatalf("destroyed job located: %+v", r)
	}
}

func TestPROTO07ListMachines(t *testing.T) {
	e := newEnv(t, dual())
	ms, err := e.ListMachines(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "m0" || ms[0].Width != 1 || ms[0].Height != 2 || len(ms[0].DeadBoards) != 0 ||
		len(ms[0].DeadLinks) != 0 || len(ms[0].Tags) != 1 || ms[0].Tags[0] != "default" {
		t.Fatalf("m0: %+v", ms)
	}
	m1 := ms[1]
	if m1.Name != "m1" || m1.Width != 3 || m1.Height != 4 || !sameBoards(m1.DeadBoards, []geometry.Board{b3(0, 0, 1)}) ||
		len(m1.DeadLinks) != 1 || m1.DeadLinks[0] != (service.DeadLink{Board: b3(1, 1, 1), Link: geometry.North}) {
		t.Fatalf("m1: %+v", m1)
	}
}

func TestPROTO08BoardPositions(t *testing.T) {
	g := grid("m", 1, 2)
	g.Scale = 10
	dead := grid("m1", 1, 2)
	dead.BMPPrefix, dead.BoardPrefix = "10.5", "15"
	dead.Extra = "dead_boards = [[0, 0, 1]]\n"
	e := newEnv(t, testutil.GridTOML(g)+testutil.GridTOML(dead))
	pos := func(m string, b geometry.Board) *service.Physical {
		p, err := e.BoardPosition(e.ctx, m, b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := func(m string, p service.Physical) *geometry.Board {
		b, err := e.BoardAtPosition(e.ctx, m, p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if p := pos("m", b3(0, 0, 2)); p == nil || *p != (service.Physical{Board: 20}) {
		t.Errorf("position: %v", p)
	}
	if pos("bad", b3(0, 0, 0)) != nil || pos("m", b3(1, 0, 0)) != nil {
		t.Error("position of a missing board")
	}
	if b := at("m", service.Physical{Board: 20}); b == nil || *b != b3(0, 0, 2) {
		t.Errorf("board at: %v", b)
	}
	if b := at("m", service.Physical{}); b == nil || *b != b3(0, 0, 0) {
		t.Errorf("board at: %v", b)
	}
	if at("m", service.Physical{Board: 21}) != nil || at("bad", service.Physical{}) != nil {
		t.Error("board at a missing slot")
	}
	if p := pos("m1", b3(0, 0, 1)); p == nil || *p != (service.Physical{Board: 1}) {
		t.Errorf("dead board with a position: %v", p)
	}
	if b := at("m1", service.Physical{Board: 1}); b == nil || *b != b3(0, 0, 1) {
		t.Errorf("slot of a dead board: %v", b)
	}
}

// Job chips wrap around the machine (issue 17, item 3): they are taken
// relative to the job's per-coordinate minimum, wrapped modulo the
// machine's size in chips (negative ones too), and answered when they fall
// on one of the job's boards. A logical board outside the machine is none.
func TestWhereIsJobChipWrapsAroundTheMachine(t *testing.T) {
	e := newEnv(t, testutil.Grids(grid("m3", 1, 1), grid("m42", 4, 2)))
	small := e.create(board(0, 0, 2), onMachine("m3"))
	for _, c := range [][2]int{{2, 27}, {2, 3}, {-10, -9}, {14, 15}} {
		r := e.whereJob(small, c[0], c[1])
		if r == nil || r.Chip != [2]int{6, 11} || r.JobChip == nil || *r.JobChip != [2]int{2, 3} || r.Logical != b3(0, 0, 2) {
			t.Errorf("job chip %v of a job on board (0,0,2) of a 12x12-chip machine: %+v, want chip [6 11], job chip [2 3]", c, r)
		}
	}
	if r := e.whereJob(small, 7, 0); r != nil { // on another board of the machine
		t.Errorf("job chip (7,0) answered %+v, want null (on another board)", r)
	}
	wide := e.create(board(0, 0, 0), onMachine("m42"))
	for _, c := range [][2]int{{48, 0}, {0, 24}, {-48, 48}} {
		r := e.whereJob(wide, c[0], c[1])
		if r == nil || r.Chip != [2]int{0, 0} || r.JobChip == nil || *r.JobChip != [2]int{0, 0} || r.Logical != b3(0, 0, 0) {
			t.Errorf("job chip %v of a job on board (0,0,0) of a 48x24-chip machine: %+v, want its chip (0,0)", c, r)
		}
	}
	for _, bd := range []geometry.Board{b3(4, 0, 0), b3(0, 2, 0), b3(-1, 0, 0), b3(0, 0, 3)} {
		if r := e.whereBoard("m42", bd); r != nil {
			t.Errorf("logical board %v outside the machine answered %+v, want null", bd, r)
		}
	}
}
