package service_test

// Behaviour cases ALLOC (at the job level) and PLACE.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

type feasCase struct {
	name  string
	shape service.Shape
	mods  []mod
	ok    bool // allocated (else destroyed at once with "Cancelled: NSMA")
	board int  // boards expected when ok (0 = do not check)
}

// runFeasibility creates each job on one service, in turn on the empty
// machine (each case's job is destroyed and powered off before the next),
// and checks that it is allocated or cancelled at once.
func runFeasibility(t *testing.T, toml string, cases []feasCase) {
	t.Helper()
	e := newEnv(t, toml)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			id := e.create(c.shape, c.mods...)
			if !c.ok {
				e.wantDestroyed(id, nsma)
				return
			}
			e.wantState(id, service.StatePower)
			if n := len(e.boards(id)); c.board != 0 && n != c.board {
				t.Fatalf("%d boards, want %d", n, c.board)
			}
			e.finish()
			e.wantState(id, service.StateReady)
			e.destroyAndFree(id)
			e.consistent()
		})
	}
}

func TestALLOC05BottomLeftBoardMustWork(t *testing.T) {
	g := grid("m", 1, 1)
	g.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 0}}
	runFeasibility(t, testutil.GridTOML(g), []feasCase{
		{"1x1", rect(1, 1), nil, false, 0},
		{"n=2", nb(2), nil, false, 0},
		{"n=3", nb(3), nil, false, 0},
		{"board 0,0,0", board(0, 0, 0), nil, false, 0},
		{"one board", one(), nil, true, 1},
		{"board 0,0,1", board(0, 0, 1), nil, true, 1},
	})
}

func TestALLOC09TorusOnlyForTheWholeMachine(t *testing.T) {
	toml := testutil.GridTOML(grid("m", 3, 4))
	runFeasibility(t, toml, []feasCase{
		{"2x4", rect(2, 4), []mod{torus()}, false, 0},
		{"3x3", rect(3, 3), []mod{torus()}, false, 0},
		{"2x3", rect(2, 3), []mod{torus()}, false, 0},
		{"n=24", nb(24), []mod{torus()}, false, 0},
		{"n=33", nb(33), []mod{torus()}, false, 0},
		{"3x4", rect(3, 4), []mod{torus()}, true, 36},
		{"n=34", nb(34), []mod{torus()}, true, 36},
	})
	e := newEnv(t, toml)
	id := e.create(rect(3, 4), torus())
	if info := e.info(id); info.Width != 36 || info.Height != 48 {
		t.Fatalf("whole 3x4 machine: %dx%d chips, want 36x48", info.Width, info.Height)
	}
}

func TestALLOC10NBoardsRoundUpToTriads(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 3, 4)))
	for n, want := range map[int]int{1: 1, 2: 3, 3: 3, 4: 6, 5: 6, 6: 6} {
		shape := nb(n)
		if n == 1 {
			shape = one()
		}
		id := e.create(shape)
		if got := len(e.boards(id)); got != want {
			t.Fatalf("n=%d: %d boards, want %d", n, got, want)
		}
		e.destroyAndFree(id)
	}
}

func TestALLOC11FeasibilityOnEmpty3x4(t *testing.T) {
	runFeasibility(t, testutil.GridTOML(grid("m", 3, 4)), []feasCase{
		{"4x4", rect(4, 4), nil, false, 0},
		{"3x5", rect(3, 5), nil, false, 0},
		{"4x5", rect(4, 5), nil, false, 0},
		{"n=37", nb(37), nil, false, 0},
		{"3x4", rect(3, 4), nil, true, 36},
		{"1x1", rect(1, 1), nil, true, 3},
		{"n=36", nb(36), nil, true, 36},
		{"n=35", nb(35), nil, true, 36},
		{"n=2", nb(2), nil, true, 3},
		{"one", one(), nil, true, 1},
	})
}

// ALLOC-11: non-positive sizes are invalid values and create no job.
func TestALLOC11NonPositiveSizesAreInvalid(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 3, 4)))
	for _, shape := range []service.Shape{rect(0, 0), rect(0, 1), rect(1, 0), rect(-1, 1), nb(0), nb(-1)} {
		_, err := e.CreateJob(e.ctx, request(shape))
		if service.KindOf(err) != service.KindInvalid {
			t.Errorf("%+v: error %v, want an invalid-value error", shape, err)
		}
	}
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != 0 {
		t.Fatalf("invalid requests created jobs: %+v", jobs)
	}
	if id := e.create(one()); id != 1 {
		t.Fatalf("first real job got id %d, want 1 (no id spent on invalid requests)", id)
	}
}

func TestALLOC12SingleBoardFeasibility(t *testing.T) {
	toml := testutil.GridTOML(grid("m", 2, 3))
	runFeasibility(t, toml, []feasCase{
		{"-1,0,0", board(-1, 0, 0), nil, false, 0},
		{"0,-1,0", board(0, -1, 0), nil, false, 0},
		{"0,3,0", board(0, 3, 0), nil, false, 0},
		{"2,0,0", board(2, 0, 0), nil, false, 0},
		{"0,0,-1", board(0, 0, -1), nil, false, 0},
		{"0,0,3", board(0, 0, 3), nil, false, 0},
		{"1,2,2", board(1, 2, 2), nil, true, 1},
		{"0,0,0", board(0, 0, 0), nil, true, 1},
	})
	g := grid("m", 2, 3)
	g.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 1}}
	runFeasibility(t, testutil.GridTOML(g), []feasCase{
		{"dead 0,0,1", board(0, 0, 1), nil, false, 0},
		{"0,0,2", board(0, 0, 2), nil, true, 1},
	})
	all := grid("m", 1, 1)
	all.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 0}, {X: 0, Y: 0, Z: 1}, {X: 0, Y: 0, Z: 2}}
	runFeasibility(t, testutil.GridTOML(all), []feasCase{
		{"one", one(), nil, false, 0},
		{"n=1", nb(1), nil, false, 0},
		{"0,0,0", board(0, 0, 0), nil, false, 0},
	})
}

func TestALLOC13TorusWithSingleBoardIsAnError(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 3)))
	for _, shape := range []service.Shape{one(), nb(1), board(0, 0, 0)} {
		_, err := e.CreateJob(e.ctx, request(shape, torus()))
		if service.KindOf(err) != service.KindInvalid || service.UserMessage(err) != "require_torus must be False when allocating boards." {
			t.Errorf("%+v: %v", shape, err)
		}
	}
	e.wantDestroyed(e.create(nb(2), torus()), nsma)
}

func TestALLOC14NineByTenWithOneDeadBoard(t *testing.T) {
	g := grid("m", 9, 10)
	g.DeadBoards = []geometry.Board{{X: 3, Y: 2, Z: 1}}
	runFeasibility(t, testutil.GridTOML(g), []feasCase{
		{"one", one(), nil, true, 1},
		{"n=1", nb(1), nil, true, 1},
		{"0,0,0", board(0, 0, 0), nil, true, 1},
		{"n=270", nb(270), nil, true, 269},
		{"1x1", rect(1, 1), nil, true, 3},
		{"9x10 torus", rect(9, 10), []mod{torus()}, true, 269},
		{"n=269 mdb=0", nb(269), []mod{maxDeadBoards(0)}, true, 269},
		{"9x10 mdb=1", rect(9, 10), []mod{maxDeadBoards(1)}, true, 269},
		{"dead 3,2,1", board(3, 2, 1), nil, false, 0},
		{"n=270 ratio 1", nb(270), []mod{minRatio(1)}, false, 0},
		{"n=271", nb(271), nil, false, 0},
		{"1x1 torus", rect(1, 1), []mod{torus()}, false, 0},
		{"n=270 mdb=0", nb(270), []mod{maxDeadBoards(0)}, false, 0},
		{"9x10 mdb=0", rect(9, 10), []mod{maxDeadBoards(0)}, false, 0},
	})
}

func TestALLOC15SpareBoardsFromRounding(t *testing.T) {
	g := grid("m", 4, 2)
	g.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 2}}
	toml := testutil.GridTOML(g)
	runFeasibility(t, toml, []feasCase{
		{"n=23 mdb=0", nb(23), []mod{maxDeadBoards(0)}, true, 23},
		{"n=24 mdb=0", nb(24), []mod{maxDeadBoards(0)}, false, 0},
	})
	e := newEnv(t, toml)
	if info := e.info(e.create(nb(23), maxDeadBoards(0))); info.Width != 48 || info.Height != 24 {
		t.Fatalf("size %dx%d, want 48x24", info.Width, info.Height)
	}
}

func TestPLACE01ThreeBoardsFromOneTriadThenAQueue(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	ids := []int64{e.create(one()), e.create(one()), e.create(one()), e.create(one())}
	e.finish()
	seen := map[geometry.Board]bool{}
	for _, id := range ids[:3] {
		e.wantState(id, service.StateReady)
		bs := e.boards(id)
		if len(bs) != 1 || seen[bs[0]] {
			t.Fatalf("job %d boards %v (seen %v)", id, bs, seen)
		}
		seen[bs[0]] = true
	}
	e.wantState(ids[3], service.StateQueued)
	old := e.boards(ids[1])
	e.destroy(ids[1])
	e.wantState(ids[3], service.StateQueued) // not before the power-off
	e.finish()
	if got := e.boards(ids[3]); !sameBoards(got, old) {
		t.Fatalf("job 4 got %v, want job 2's old board %v", got, old)
	}
	e.wantState(ids[3], service.StateReady)
	e.consistent()
}

func TestPLACE02SingleBoardsShareATriad(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 1)))
	a, b := e.create(one()), e.create(one())
	ta, tb := e.boards(a)[0], e.boards(b)[0]
	if ta.X != tb.X || ta.Y != tb.Y {
		t.Fatalf("single boards %v and %v in different triads", ta, tb)
	}
	c := e.create(rect(1, 1))
	e.wantState(c, service.StatePower)
	if e.boards(c)[0].X == ta.X {
		t.Fatalf("1x1 block %v on the partly used triad", e.boards(c))
	}
	d := e.create(one())
	if bd := e.boards(d)[0]; bd.X != ta.X || bd == ta || bd == tb {
		t.Fatalf("third single board %v, want the last board of triad %d", bd, ta.X)
	}
	e.wantState(e.create(one()), service.StateQueued)
	e.consistent()
}

func TestPLACE03EqualBlocksTileTheMachine(t *testing.T) {
	sizes := [][2]int{{1, 1}, {2, 5}, {5, 2}, {10, 10}, {10, 20}, {5, 1}, {10, 1}, {1, 5}, {1, 20}}
	if raceEnabled {
		sizes = [][2]int{{2, 5}, {10, 10}, {10, 1}, {1, 20}}
	}
	e := newEnv(t, testutil.GridTOML(grid("m", 10, 20)))
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			e.t = t
			n := 200 / (sz[0] * sz[1])
			seen := map[geometry.Board]int64{}
			var ids []int64
			for range n {
				id := e.create(rect(sz[0], sz[1]))
				ids = append(ids, id)
				e.wantState(id, service.StatePower)
				for _, b := range e.boards(id) {
					if other, dup := seen[b]; dup {
						t.Fatalf("board %v in jobs %d and %d", b, other, id)
					}
					seen[b] = id
				}
			}
			if len(seen) != 600 {
				t.Fatalf("%d boards covered, want 600", len(seen))
			}
			extra := e.create(rect(sz[0], sz[1]))
			e.wantState(extra, service.StateQueued)
			e.destroy(extra)
			for _, id := range ids {
				e.destroy(id)
			}
			e.finish()
			whole := e.create(rect(10, 20))
			e.wantState(whole, service.StatePower)
			e.destroyAndFree(whole)
			e.consistent()
		})
	}
}

func TestPLACE04EveryTriadBoardByBoard(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 4, 5)))
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[geometry.Board]bool{}
	for z := range 2 {
		for _, t := range rng.Perm(20) {
			seen[geometry.Board{X: t % 4, Y: t / 4, Z: z}] = false
			id := e.create(board(t%4, t/4, z))
			e.wantState(id, service.StatePower)
		}
	}
	e.finish()
	jobs, _ := e.ListJobs(e.ctx)
	for _, j := range jobs {
		if j.State != service.StateReady || len(j.Boards) != 1 || seen[j.Boards[0]] {
			t.Fatalf("job %+v", j)
		}
		seen[j.Boards[0]] = true
	}
	if len(jobs) != 40 {
		t.Fatalf("%d jobs, want 40", len(jobs))
	}
	e.wantState(e.create(rect(1, 1)), service.StateQueued)
	e.wantState(e.create(board(2, 3, 0)), service.StateQueued)
	e.consistent()
}

func TestPLACE05ShapesOfNBoardRequests(t *testing.T) {
	cases := []struct {
		w, h   int
		n      int
		ratio  float64
		boards int
		shapes [][2]int // allowed block sizes in triads
	}{
		{4, 4, 4, 0, 6, [][2]int{{2, 1}, {1, 2}}},
		{4, 4, 4, 1.0, 12, [][2]int{{2, 2}}},
		{4, 4, 10, 0.5, 12, [][2]int{{2, 2}}},
		{4, 4, 13, 0.5, 18, [][2]int{{3, 2}, {2, 3}}},
		{20, 20, 21, 0, 21, [][2]int{{7, 1}, {1, 7}}},
		{3, 3, 21, 0, 27, [][2]int{{3, 3}}},
	}
	envs := map[[2]int]*env{}
	for _, c := range cases {
		e := envs[[2]int{c.w, c.h}]
		if e == nil {
			e = newEnv(t, testutil.GridTOML(grid("m", c.w, c.h)))
			envs[[2]int{c.w, c.h}] = e
		}
		t.Run(fmt.Sprintf("%d on %dx%d ratio %v", c.n, c.w, c.h, c.ratio), func(t *testing.T) {
			e.t = t
			id := e.create(nb(c.n), minRatio(c.ratio))
			bs := e.boards(id)
			if len(bs) != c.boards {
				t.Fatalf("%d boards, want %d", len(bs), c.boards)
			}
			w, h := extent(bs)
			e.destroyAndFree(id)
			ok := false
			for _, s := range c.shapes {
				ok = ok || (s[0] == w && s[1] == h)
			}
			if !ok {
				t.Fatalf("block %dx%d, want one of %v", w, h, c.shapes)
			}
		})
	}
}

func extent(bs []geometry.Board) (w, h int) {
	minX, maxX, minY, maxY := bs[0].X, bs[0].X, bs[0].Y, bs[0].Y
	for _, b := range bs {
		minX, maxX, minY, maxY = min(minX, b.X), max(maxX, b.X), min(minY, b.Y), max(maxY, b.Y)
	}
	return maxX - minX + 1, maxY - minY + 1
}

func TestPLACE07PartlyDeadTriad(t *testing.T) {
	g := grid("m", 1, 1)
	g.DeadBoards = []geometry.Board{{X: 0, Y: 0, Z: 1}}
	e := newEnv(t, testutil.GridTOML(g))
	info := e.info(e.create(rect(1, 1)))
	if !sameBoards(info.Boards, []geometry.Board{{X: 0, Y: 0, Z: 0}, {X: 0, Y: 0, Z: 2}}) || info.Width != 12 || info.Height != 12 {
		t.Fatalf("info %+v", info)
	}
	want := map[service.Connection]bool{{ChipX: 0, ChipY: 0, Hostname: "11.0.0.0"}: true, {ChipX: 4, ChipY: 8, Hostname: "11.0.0.2"}: true}
	if len(info.Connections) != 2 || !want[info.Connections[0]] || !want[info.Connections[1]] {
		t.Fatalf("connections %+v", info.Connections)
	}
}
