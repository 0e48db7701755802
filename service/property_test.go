package service_test

// Property tests: random sequences of create / destroy / power / keepalive /
// time / BMP outcomes (board faults and BMPs that do not answer) / BMPs
// marked unreachable and back / reconfiguration / restart on small machines with
// random dead boards and links, checking after every step:
//
//   - the consistency check finds nothing (no board in two jobs, no board of
//     a dead job, power agrees with jobs and pending operations, queues);
//   - no board is in two live jobs; newly allocated boards are working (not
//     dead, not out of service), inside the machine and connected through
//     working links; blocks' link-disable requests are exactly the links
//     leaving the allocation;
//   - queues are served in order. Under the fifo policy a job is never
//     allocated on a machine while an older queued job could run there.
//     Under the reserve policy the oldest queued job that could run on a
//     machine holds its reservation (none when there is no such job); a
//     job allocated while an older one could run there was let in beside a
//     reservation of an older job, and no job behind the holder ever
//     enters a reserved region while it stands;
//   - a job cancelled at creation had no machine able to hold it;
//   - every job id handed out keeps answering, across restarts.
//
// More cases: go test -run Property -rapid.checks=1000 ./service/

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// machineSpec is one configured machine of the model.
type machineSpec struct {
	grid testutil.Grid
}

// jobModel is what the test remembers about a job.
type jobModel struct {
	req     service.CreateJobRequest
	machine string
	boards  []geometry.Board
	state   service.JobState
}

type propModel struct {
	t        *testing.T
	ctx      context.Context
	svc      *testutil.Service
	policy   string                          // [scheduler] policy
	reserved map[string]*service.Reservation // by machine, at the last check
	specs    []machineSpec
	version  int // bumps addresses on major changes
	jobs     map[int64]*jobModel
	order    []int64
	inFlight []service.BMPOp
}

func TestPropertyRandomOperations(t *testing.T) {
	fewerChecksUnderRace()
	rapid.Check(t, func(rt *rapid.T) {
		m := newPropModel(t, rt)
		rt.Repeat(map[string]func(*rapid.T){
			"create":    m.create,
			"destroy":   m.destroy,
			"power":     m.power,
			"keepalive": m.keepalive,
			"time":      m.advance,
			"claim":     m.claim,
			"complete":  m.complete,
			"reach":     m.reach,
			"reconfig":  m.reconfigure,
			"restart":   m.restart,
			"":          m.check,
		})
	})
}

func newPropModel(t *testing.T, rt *rapid.T) *propModel {
	m := &propModel{t: t, ctx: context.Background(), jobs: map[int64]*jobModel{}}
	m.policy = rapid.SampledFrom([]string{"fifo", "reserve"}).Draw(rt, "policy")
	m.specs = []machineSpec{m.drawMachine(rt, "a", 0)}
	if rapid.Bool().Draw(rt, "two machines") {
		m.specs = append(m.specs, m.drawMachine(rt, "b", 1))
	}
	path := filepath.Join(t.TempDir(), "spalloc.db")
	m.svc = testutil.NewService(t, m.toml(), testutil.WithOptions(func(o *service.Options) { o.DBPath = path }))
	rt.Cleanup(func() { m.svc.Close() })
	return m
}

func (m *propModel) drawMachine(rt *rapid.T, name string, slot int) machineSpec {
	g := testutil.Grid{Name: name, Width: rapid.IntRange(1, 4).Draw(rt, name+" width"),
		Height: rapid.IntRange(1, 3).Draw(rt, name+" height")}
	g.Tags = []string{"default"}
	g.PositionDeadBoards = true // marking a board dead is then a minor change
	if rapid.Bool().Draw(rt, name+" tagged x") {
		g.Tags = append(g.Tags, "x")
	}
	n := 3 * g.Width * g.Height
	for i := range n {
		if rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("%s dead %d", name, i)) == 0 {
			g.DeadBoards = append(g.DeadBoards, boardAt(g.Width, i))
		}
	}
	for i := range rapid.IntRange(0, 3).Draw(rt, name+" dead links") {
		b := boardAt(g.Width, rapid.IntRange(0, n-1).Draw(rt, fmt.Sprintf("%s link board %d", name, i)))
		l := geometry.Link(rapid.IntRange(0, 5).Draw(rt, fmt.Sprintf("%s link %d", name, i)))
		if !slices.Contains(g.DeadLinks, testutil.DeadLinkSpec{Board: b, Link: l}) {
			g.DeadLinks = append(g.DeadLinks, testutil.DeadLinkSpec{Board: b, Link: l})
		}
	}
	m.address(&g, slot)
	return machineSpec{grid: g}
}

// address gives a new machine addresses no other machine had before.
func (m *propModel) address(g *testutil.Grid, slot int) {
	m.version++
	g.BMPPrefix = fmt.Sprintf("10.%d", 10*m.version+slot+1)
	g.BoardPrefix = fmt.Sprintf("%d", 20+10*m.version+slot)
}

func boardAt(w, i int) geometry.Board {
	t := i / 3
	return geometry.Board{X: t % w, Y: t / w, Z: i % 3}
}

func (m *propModel) toml() string {
	s := "[server]\n[scheduler]\npolicy = \"" + m.policy + "\"\n"
	for _, sp := range m.specs {
		s += testutil.GridTOML(sp.grid)
	}
	return s
}

// ---- actions ----

func (m *propModel) drawShape(rt *rapid.T) service.Shape {
	switch rapid.IntRange(0, 3).Draw(rt, "shape") {
	case 0:
		return one()
	case 1:
		return nb(rapid.IntRange(1, 14).Draw(rt, "n"))
	case 2:
		return rect(rapid.IntRange(1, 4).Draw(rt, "w"), rapid.IntRange(1, 3).Draw(rt, "h"))
	}
	return board(rapid.IntRange(-1, 4).Draw(rt, "x"), rapid.IntRange(0, 3).Draw(rt, "y"), rapid.IntRange(0, 2).Draw(rt, "z"))
}

func (m *propModel) create(rt *rapid.T) {
	shape := m.drawShape(rt)
	var mods []mod
	switch rapid.IntRange(0, 4).Draw(rt, "select") {
	case 0:
		mods = append(mods, onMachine(rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "machine")))
	case 1:
		mods = append(mods, tags("x"))
	}
	if shape.Kind == service.ShapeNBoards || shape.Kind == service.ShapeRect {
		if rapid.IntRange(0, 3).Draw(rt, "mdb") == 0 {
			mods = append(mods, maxDeadBoards(rapid.IntRange(0, 2).Draw(rt, "max dead boards")))
		}
		if rapid.IntRange(0, 3).Draw(rt, "mdl") == 0 {
			mods = append(mods, maxDeadLinks(rapid.IntRange(0, 2).Draw(rt, "max dead links")))
		}
		if shape.Kind == service.ShapeRect && rapid.IntRange(0, 5).Draw(rt, "torus") == 0 {
			mods = append(mods, torus())
		}
	}
	if rapid.Bool().Draw(rt, "keepalive") {
		mods = append(mods, keepalive(float64(rapid.IntRange(1, 10).Draw(rt, "keepalive secs"))))
	} else {
		mods = append(mods, noKeepalive())
	}
	req := request(shape, mods...)
	id, err := m.svc.CreateJob(m.ctx, req)
	if err != nil {
		rt.Fatalf("create %+v: %v", req, err)
	}
	if prev := len(m.order); prev > 0 && id <= m.order[prev-1] {
		rt.Fatalf("job id %d after %d", id, m.order[prev-1])
	}
	m.jobs[id] = &jobModel{req: req, state: service.StateQueued}
	m.order = append(m.order, id)
	m.checkCancelledAtCreation(rt, id)
}

func (m *propModel) pickJob(rt *rapid.T) (int64, bool) {
	if len(m.order) == 0 {
		return 0, false
	}
	return rapid.SampledFrom(m.order).Draw(rt, "job"), true
}

func (m *propModel) destroy(rt *rapid.T) {
	if id, ok := m.pickJob(rt); ok {
		if err := m.svc.DestroyJob(m.ctx, id, nil, ""); err != nil {
			rt.Fatalf("destroy %d: %v", id, err)
		}
	}
}

func (m *propModel) power(rt *rapid.T) {
	id, ok := m.pickJob(rt)
	if !ok {
		return
	}
	f := m.svc.PowerOffJob
	if rapid.Bool().Draw(rt, "on") {
		f = m.svc.PowerOnJob
	}
	if err := f(m.ctx, id, ""); err != nil {
		rt.Fatalf("power %d: %v", id, err)
	}
}

func (m *propModel) keepalive(rt *rapid.T) {
	if id, ok := m.pickJob(rt); ok {
		m.svc.Keepalive(m.ctx, id, "h")
	}
}

func (m *propModel) advance(rt *rapid.T) {
	m.svc.Clock.Advance(time.Duration(rapid.IntRange(0, 4000).Draw(rt, "ms")) * time.Millisecond)
	if err := m.svc.Tick(m.ctx); err != nil {
		rt.Fatalf("tick: %v", err)
	}
}

// claim plays the workers: claims what is pending (some BMPs).
func (m *propModel) claim(rt *rapid.T) {
	bmps, err := m.svc.BMPs(m.ctx)
	if err != nil {
		rt.Fatal(err)
	}
	var batch []service.BMPOp
	for _, b := range bmps {
		if rapid.IntRange(0, 3).Draw(rt, "skip bmp") != 0 {
			ops, err := m.svc.ClaimBMPOps(m.ctx, b.ID)
			if err != nil {
				rt.Fatal(err)
			}
			batch = append(batch, ops...)
		}
	}
	m.checkClaimedPeriphery(rt, batch)
	checkOnePowerOpPerBoard(rt, batch)
	m.inFlight = append(m.inFlight, batch...)
}

// complete reports outcomes for the operations in flight; a few fail.
func (m *propModel) complete(rt *rapid.T) {
	if len(m.inFlight) == 0 {
		return
	}
	res := make([]service.OpResult, len(m.inFlight))
	for i, op := range m.inFlight {
		res[i].OpID = op.ID
		if rapid.IntRange(0, 19).Draw(rt, "fail") == 0 {
			res[i].Err = errors.New("BMP did not answer")
			res[i].BMPDown = rapid.Bool().Draw(rt, "BMP down")
		}
	}
	m.inFlight = nil
	if err := m.svc.CompleteBMPOps(m.ctx, res); err != nil {
		rt.Fatalf("complete: %v", err)
	}
}

// reach marks a BMP unreachable or reachable, as its worker would.
func (m *propModel) reach(rt *rapid.T) {
	bmps, err := m.svc.BMPs(m.ctx)
	if err != nil || len(bmps) == 0 {
		return
	}
	b := bmps[rapid.IntRange(0, len(bmps)-1).Draw(rt, "BMP")]
	if err := m.svc.SetBMPReachable(m.ctx, b.ID, rapid.Bool().Draw(rt, "reachable"), "no reply"); err != nil {
		rt.Fatalf("set BMP reachable: %v", err)
	}
}

func (m *propModel) reconfigure(rt *rapid.T) {
	i := rapid.IntRange(0, len(m.specs)-1).Draw(rt, "machine to change")
	switch rapid.IntRange(0, 3).Draw(rt, "change") {
	case 0: // minor: toggle a dead board
		g := &m.specs[i].grid
		b := boardAt(g.Width, rapid.IntRange(0, 3*g.Width*g.Height-1).Draw(rt, "board"))
		if j := slices.Index(g.DeadBoards, b); j >= 0 {
			g.DeadBoards = slices.Delete(g.DeadBoards, j, j+1)
		} else {
			g.DeadBoards = append(g.DeadBoards, b)
		}
	case 1: // major: a new size and new addresses
		m.specs[i] = m.drawMachine(rt, m.specs[i].grid.Name, i)
	case 2: // add or remove the second machine
		if len(m.specs) == 2 {
			m.specs = m.specs[:1]
		} else {
			name := map[string]string{"a": "b", "b": "a"}[m.specs[0].grid.Name]
			m.specs = append(m.specs, m.drawMachine(rt, name, 1))
		}
	case 3: // reorder
		slices.Reverse(m.specs)
	}
	cfg := testutil.ParseConfig(m.t, m.toml())
	if _, err := m.svc.ApplyConfig(m.ctx, cfg); err != nil {
		rt.Fatalf("reload: %v", err)
	}
	m.svc.Config = cfg // what a restart applies again
}

func (m *propModel) restart(rt *rapid.T) {
	before := m.states(rt)
	m.svc.Restart(m.t)
	m.inFlight = nil // the workers died with the server
	after := m.states(rt)
	for id, st := range before {
		if after[id] != st {
			rt.Fatalf("job %d was %v before the restart, %v after", id, st, after[id])
		}
	}
}

// ---- checks ----

// states reads every job's state without touching keepalives.
func (m *propModel) states(rt *rapid.T) map[int64]service.JobState {
	live, err := m.svc.ListJobs(m.ctx)
	if err != nil {
		rt.Fatal(err)
	}
	out := map[int64]service.JobState{}
	for _, j := range live {
		out[j.ID] = j.State
	}
	for _, id := range m.order {
		if _, ok := out[id]; !ok {
			st, err := m.svc.JobState(m.ctx, id, "") // not live: no keepalive to touch
			if err != nil {
				rt.Fatal(err)
			}
			out[id] = st.State
		}
	}
	return out
}

func (m *propModel) check(rt *rapid.T) {
	problems, err := m.svc.CheckConsistency(m.ctx)
	if err != nil || len(problems) > 0 {
		rt.Fatalf("consistency: %v %v", problems, err)
	}
	machines := m.machineModels(rt)
	live, err := m.svc.ListJobs(m.ctx)
	if err != nil {
		rt.Fatal(err)
	}
	m.checkNoSharedBoards(rt, live)
	for _, j := range live {
		m.checkJob(rt, j, machines, live)
	}
	m.checkReservations(rt, machines)
	states := m.states(rt)
	for _, id := range m.order {
		if states[id] == service.StateUnknown {
			rt.Fatalf("job %d is unknown", id)
		}
		m.jobs[id].state = states[id]
	}
}

type machineModel struct {
	summary service.MachineSummary
	// dead = configured dead + out of service: what a machine could ever
	// hold does not depend on whether its BMPs answer now.
	alloc *allocator.Machine
}

func (m *propModel) machineModels(rt *rapid.T) map[string]machineModel {
	ms, err := m.svc.ListMachines(m.ctx)
	if err != nil {
		rt.Fatal(err)
	}
	out := map[string]machineModel{}
	for _, s := range ms {
		links := make([]allocator.BoardLink, len(s.DeadLinks))
		for i, l := range s.DeadLinks {
			links[i] = allocator.BoardLink{Board: l.Board, Link: l.Link}
		}
		md, err := m.svc.MachineDetail(m.ctx, s.Name)
		if err != nil {
			rt.Fatal(err)
		}
		var dead []geometry.Board
		for _, b := range md.Boards {
			if b.Dead || b.OutOfService != nil {
				dead = append(dead, b.Board)
			}
		}
		am, err := allocator.NewMachine(s.Width, s.Height, dead, links)
		if err != nil {
			rt.Fatal(err)
		}
		out[s.Name] = machineModel{summary: s, alloc: am}
	}
	return out
}

func (m *propModel) checkNoSharedBoards(rt *rapid.T, live []service.JobSummary) {
	owner := map[string]int64{}
	for _, j := range live {
		for _, b := range j.Boards {
			k := *j.MachineName + b.String()
			if other, dup := owner[k]; dup {
				rt.Fatalf("board %s in jobs %d and %d", k, other, j.ID)
			}
			owner[k] = j.ID
		}
	}
}

func (m *propModel) checkJob(rt *rapid.T, j service.JobSummary, machines map[string]machineModel, live []service.JobSummary) {
	jm := m.jobs[j.ID]
	if j.MachineName == nil {
		jm.machine, jm.boards = "", nil
		return
	}
	if jm.machine == *j.MachineName && sameBoards(jm.boards, j.Boards) {
		return // seen before
	}
	jm.machine, jm.boards = *j.MachineName, j.Boards
	mm, ok := machines[jm.machine]
	if !ok {
		rt.Fatalf("job %d on unknown machine %q", j.ID, jm.machine)
	}
	for _, b := range j.Boards {
		if !b.InMachine(mm.summary.Width, mm.summary.Height) || mm.alloc.IsDead(mm.alloc.BoardIndex(b)) {
			rt.Fatalf("job %d newly got board %v of %s, which is outside, dead or out of service", j.ID, b, jm.machine)
		}
	}
	if !connected(mm.alloc, j.Boards) {
		rt.Fatalf("job %d boards %v are not connected by working links", j.ID, j.Boards)
	}
	m.checkOrder(rt, j, machines[jm.machine], live)
}

// connected reports whether the boards form one component through working
// links (with wrap-around) among themselves.
func connected(am *allocator.Machine, boards []geometry.Board) bool {
	in := map[geometry.Board]bool{}
	for _, b := range boards {
		in[b] = true
	}
	seen := map[geometry.Board]bool{boards[0]: true}
	queue := []geometry.Board{boards[0]}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, l := range geometry.AllLinks {
			if am.LinkDead(am.BoardIndex(b), l) {
				continue
			}
			to, _ := geometry.BoardDownLink(b, l, am.Width, am.Height)
			if in[to] && !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	return len(seen) == len(boards)
}

// checkOrder: a job just allocated on a machine had no older queued job
// that could run there (one that selects the machine and fits it empty);
// under the reserve policy it may have, if the machine is reserved for an
// older job. It never lands in a region reserved since the last check for
// an older job (a job queued before the holder, sent back to the queue
// when its boards failed, is ahead of it and may).
func (m *propModel) checkOrder(rt *rapid.T, j service.JobSummary, mm machineModel, live []service.JobSummary) {
	machine := mm.summary.Name
	if r := m.reserved[machine]; r != nil && r.Job < j.ID && sameReservation(r, mm.summary.Reservation) {
		for _, b := range j.Boards {
			if b.X >= r.X && b.X < r.X+r.Width && b.Y >= r.Y && b.Y < r.Y+r.Height {
				rt.Fatalf("job %d got board %v of %s, inside the region %+v reserved for job %d", j.ID, b, machine, *r, r.Job)
			}
		}
	}
	for _, k := range live {
		if k.ID >= j.ID || k.State != service.StateQueued || !m.couldRun(m.jobs[k.ID].req, mm) {
			continue
		}
		if r := mm.summary.Reservation; m.policy == "fifo" || r == nil || r.Job > j.ID {
			rt.Fatalf("job %d allocated on %s (reservation %+v, policy %s) while older job %d, which could run there, is queued",
				j.ID, machine, r, m.policy, k.ID)
		}
	}
}

func sameReservation(a, b *service.Reservation) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// checkReservations: under the reserve policy each machine is reserved for
// the oldest job queued on it that it could run (whose placement failed,
// or it would have been allocated), and only then; under fifo none is.
func (m *propModel) checkReservations(rt *rapid.T, machines map[string]machineModel) {
	queued, _, err := m.svc.Jobs(m.ctx, service.JobFilter{States: []service.JobState{service.StateQueued}, Limit: 1000})
	if err != nil {
		rt.Fatal(err)
	}
	slices.SortFunc(queued, func(a, b service.JobDetail) int { return int(a.ID - b.ID) })
	m.reserved = map[string]*service.Reservation{}
	for name, mm := range machines {
		r := mm.summary.Reservation
		m.reserved[name] = r
		var head int64
		for _, k := range queued {
			onIt := slices.ContainsFunc(k.Waiting.Positions, func(p service.QueuePosition) bool { return p.Machine == name })
			if onIt && m.couldRun(m.jobs[k.ID].req, mm) {
				head = k.ID
				break
			}
		}
		switch {
		case m.policy == "fifo" && r != nil:
			rt.Fatalf("machine %s has reservation %+v under the fifo policy", name, *r)
		case m.policy == "fifo":
		case head == 0 && r != nil:
			rt.Fatalf("machine %s is reserved (%+v) with no queued job it could run", name, *r)
		case head != 0 && (r == nil || r.Job != head):
			rt.Fatalf("machine %s: reservation %+v, want one for job %d, the oldest queued job it could run", name, r, head)
		}
	}
}

func (m *propModel) couldRun(req service.CreateJobRequest, mm machineModel) bool {
	if req.Machine != nil && *req.Machine != mm.summary.Name {
		return false
	}
	if req.Machine == nil {
		want := req.Tags
		if want == nil {
			want = []string{"default"}
		}
		for _, tag := range want {
			if !slices.Contains(mm.summary.Tags, tag) {
				return false
			}
		}
	}
	return allocator.Feasible(mm.alloc, allocRequest(req))
}

func allocRequest(req service.CreateJobRequest) allocator.Request {
	var r allocator.Request
	switch s := req.Shape; s.Kind {
	case service.ShapeOneBoard:
		r = allocator.OneBoardRequest()
	case service.ShapeNBoards:
		r = allocator.NBoardsRequest(s.N)
	case service.ShapeRect:
		r = allocator.RectRequest(s.W, s.H)
	default:
		r = allocator.SpecificBoardRequest(geometry.Board{X: s.X, Y: s.Y, Z: s.Z})
	}
	if req.MaxDeadBoards != nil {
		r.MaxDeadBoards = *req.MaxDeadBoards
	}
	if req.MaxDeadLinks != nil {
		r.MaxDeadLinks = *req.MaxDeadLinks
	}
	r.MinRatio, r.RequireTorus = req.MinRatio, req.RequireTorus
	return r
}

// checkCancelledAtCreation: a job destroyed at once with "No suitable
// machines" had no machine that could hold it.
func (m *propModel) checkCancelledAtCreation(rt *rapid.T, id int64) {
	st, err := m.svc.JobState(m.ctx, id, "")
	if err != nil {
		rt.Fatal(err)
	}
	if st.State != service.StateDestroyed {
		return
	}
	for name, mm := range m.machineModels(rt) {
		if m.couldRun(m.jobs[id].req, mm) {
			rt.Fatalf("job %d cancelled (%q) although %s could hold it", id, ptrStr(st.Reason), name)
		}
	}
}

func sameBoardSet(set map[geometry.Board]bool, boards []geometry.Board) bool {
	if len(set) != len(boards) {
		return false
	}
	for _, b := range boards {
		if !set[b] {
			return false
		}
	}
	return true
}

// checkOnePowerOpPerBoard: a claim never holds two power operations for one
// board (a newer power request supersedes the older ones no worker holds,
// and a board's operations are handed out in order), so workers need not
// decide between them.
func checkOnePowerOpPerBoard(rt *rapid.T, batch []service.BMPOp) {
	type key struct {
		bmp   int64
		board int
	}
	seen := map[key]int64{}
	for _, op := range batch {
		if op.Kind != service.OpPowerOn && op.Kind != service.OpPowerOff {
			continue
		}
		k := key{op.BMPID, op.BoardNum}
		if other, dup := seen[k]; dup {
			rt.Fatalf("operations %d and %d power board %d of BMP %d in one claim", other, op.ID, op.BoardNum, op.BMPID)
		}
		seen[k] = op.ID
	}
}

// checkClaimedPeriphery: when a batch powers on every board of a job, its
// link-disable requests are exactly the links leaving the job's boards.
func (m *propModel) checkClaimedPeriphery(rt *rapid.T, batch []service.BMPOp) {
	type key struct {
		b geometry.Board
		l geometry.Link
	}
	on := map[int64]map[geometry.Board]bool{}
	links := map[int64]map[key]bool{}
	for _, op := range batch {
		if op.JobID == nil {
			continue
		}
		id := *op.JobID
		switch op.Kind {
		case service.OpPowerOn:
			if on[id] == nil {
				on[id] = map[geometry.Board]bool{}
			}
			on[id][op.Board] = true
		case service.OpLinkOff:
			if links[id] == nil {
				links[id] = map[key]bool{}
			}
			for _, l := range op.Links {
				links[id][key{op.Board, l}] = true
			}
		}
	}
	machines := m.machineModels(rt)
	live, _ := m.svc.ListJobs(m.ctx)
	for _, j := range live {
		if j.MachineName == nil || !sameBoardSet(on[j.ID], j.Boards) {
			continue
		}
		am := machines[*j.MachineName].alloc
		in := map[geometry.Board]bool{}
		for _, b := range j.Boards {
			in[b] = true
		}
		want := map[key]bool{}
		for _, b := range j.Boards {
			for _, l := range geometry.AllLinks {
				if to, _ := geometry.BoardDownLink(b, l, am.Width, am.Height); !in[to] {
					want[key{b, l}] = true
				}
			}
		}
		if len(want) != len(links[j.ID]) {
			rt.Fatalf("job %d boards %v: %d link-disables, want %d", j.ID, j.Boards, len(links[j.ID]), len(want))
		}
		for k := range want {
			if !links[j.ID][k] {
				rt.Fatalf("job %d: link %v %v leaving the allocation is not disabled", j.ID, k.b, k.l)
			}
		}
	}
}
