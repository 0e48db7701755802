package service

// Applying a configuration: server settings and machines (reload rules:
// machines match by name; a minor change keeps jobs, a major one or a
// removal destroys them and retires the machine).

import (
	"context"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// ApplyConfig brings machines in line with cfg and applies its settings
// (retention, free delay, power-off grace, and the [bmp] settings that
// bound how long a claim of BMP operations lasts). Machines match by name:
// an unchanged machine is not written at all; a minor change (tags, dead
// boards or links) keeps its jobs; a major change (size, positions,
// addresses) or a removal destroys its jobs ("Machine removed."), powers
// their boards off and retires the machine, re-creating it if it is still
// configured. Queued jobs are then re-queued against the new machines in
// their original order.
func (s *Service) ApplyConfig(ctx context.Context, cfg *config.Config) (ReloadReport, error) {
	if cfg == nil {
		return ReloadReport{}, Invalid("no configuration given")
	}
	return writeValue(s, ctx, func(t *tx) (ReloadReport, error) {
		var rep ReloadReport
		err := t.applyConfig(cfg, &rep)
		return rep, err
	})
}

func (t *tx) applyConfig(cfg *config.Config, rep *ReloadReport) error {
	if err := t.applySettings(cfg); err != nil {
		return err
	}
	old := t.machines()
	byName := make(map[string]*machine, len(old))
	for _, m := range old {
		byName[m.name] = m
	}
	order, changed, err := t.syncMachines(cfg.Machines, byName, rep)
	if err != nil {
		return err
	}
	for _, m := range old {
		if cfg.Machine(m.name) == nil {
			if err := t.retireMachine(m); err != nil {
				return err
			}
			if err := t.endDrain(m); err != nil {
				return err
			}
			rep.Removed = append(rep.Removed, m.name)
			changed = true
		}
	}
	if err := t.carryOverAll(); err != nil {
		return err
	}
	if !changed {
		return nil
	}
	t.order = order
	return t.requeueAll()
}

// syncMachines applies each configured machine in priority order.
func (t *tx) syncMachines(ms []config.Machine, old map[string]*machine, rep *ReloadReport) ([]*machine, bool, error) {
	order := make([]*machine, 0, len(ms))
	changed := false
	for i := range ms {
		cm := &ms[i]
		m, kind, err := t.syncMachine(old[cm.Name], cm, i)
		if err != nil {
			return nil, false, err
		}
		switch kind {
		case "added":
			rep.Added = append(rep.Added, cm.Name)
		case "major":
			rep.Major = append(rep.Major, cm.Name)
		case "minor":
			rep.Minor = append(rep.Minor, cm.Name)
		default:
			rep.Unchanged = append(rep.Unchanged, cm.Name)
		}
		changed = changed || kind != "unchanged" || old[cm.Name].priority != i
		order = append(order, m)
	}
	return order, changed, nil
}

func (t *tx) syncMachine(om *machine, cm *config.Machine, priority int) (*machine, string, error) {
	switch {
	case om == nil:
		m, err := t.createMachine(cm, priority)
		return m, "added", err
	case om.major != cm.MajorFingerprint():
		m, err := t.recreateMachine(om, cm, priority)
		return m, "major", err
	}
	kind := "unchanged"
	if om.minor != cm.MinorFingerprint() {
		if err := t.updateMinor(om, cm); err != nil {
			return nil, "", err
		}
		kind = "minor"
	}
	if err := t.setPriority(om, priority); err != nil {
		return nil, "", err
	}
	return t.machine(om.id), kind, nil
}

func (t *tx) setPriority(om *machine, priority int) error {
	if om.priority == priority {
		return nil
	}
	if err := t.q.SetMachinePriority(t.ctx, db.SetMachinePriorityParams{Priority: int64(priority), ID: om.id}); err != nil {
		return t.dbErr("set machine priority", err)
	}
	t.edit(om.id).priority = priority
	return nil
}

// applySettings takes the server settings from cfg.
func (t *tx) applySettings(cfg *config.Config) error {
	old := t.currentSettings()
	next := settings{freeDelay: cfg.Server.FreeDelay, powerOffGrace: cfg.BMP.UnreachableFreeAfter,
		retain: cfg.Server.RetainDestroyed, bmp: cfg.BMP, limits: cfg.Policy, policy: cfg.Scheduler.Policy}
	if next == old {
		return nil
	}
	t.settings = &next
	if next.policy != old.policy {
		t.logf("scheduling policy", "policy", next.policy)
		if next.policy == config.PolicyFIFO {
			t.forgetAllReservations()
		}
	}
	if next.retain != old.retain && next.retain != 0 {
		return t.forgetBeyond(next.retain)
	}
	return nil
}

// ---- creating a machine ----

func (t *tx) createMachine(cm *config.Machine, priority int) (*machine, error) {
	id, err := t.q.InsertMachine(t.ctx, db.InsertMachineParams{Name: cm.Name, Priority: int64(priority),
		Width: int64(cm.Width), Height: int64(cm.Height), MajorFingerprint: cm.MajorFingerprint(),
		MinorFingerprint: cm.MinorFingerprint(), CreatedAt: unix(t.now)})
	if err != nil {
		return nil, t.dbErr("insert machine", err)
	}
	m := &machine{id: id, name: cm.Name, priority: priority, width: cm.Width, height: cm.Height,
		major: cm.MajorFingerprint(), minor: cm.MinorFingerprint()}
	if err := t.insertTags(m, cm.Tags); err != nil {
		return nil, err
	}
	if err := t.insertBMPs(m, cm.BMPs); err != nil {
		return nil, err
	}
	if err := t.insertBoards(m, cm); err != nil {
		return nil, err
	}
	if err := t.insertDeadLinks(m, cm.DeadLinks); err != nil {
		return nil, err
	}
	if m.model, err = buildModel(m); err != nil {
		return nil, t.s.internal("machine model", err)
	}
	m.occ = occupancyOf(m, func(int64) bool { return false })
	t.bumpGain(m)
	t.addMachine(m)
	t.change.machine(m.name)
	t.logf("machine added", "machine", m.name, "width", m.width, "height", m.height)
	return m, nil
}

func (t *tx) insertTags(m *machine, tags []string) error {
	m.tags = nil
	for _, tag := range tags {
		if slices.Contains(m.tags, tag) {
			continue
		}
		if err := t.q.InsertMachineTag(t.ctx, db.InsertMachineTagParams{MachineID: m.id, Tag: tag}); err != nil {
			return t.dbErr("insert machine tag", err)
		}
		m.tags = append(m.tags, tag)
	}
	slices.Sort(m.tags)
	return nil
}

func (t *tx) insertBMPs(m *machine, bmps []config.BMP) error {
	for _, b := range bmps {
		id, err := t.q.InsertBMP(t.ctx, db.InsertBMPParams{MachineID: m.id, Cabinet: int64(b.Cabinet),
			Frame: int64(b.Frame), Address: b.Address})
		if err != nil {
			return t.dbErr("insert BMP", err)
		}
		m.bmps = append(m.bmps, bmpInfo{id: id, cabinet: b.Cabinet, frame: b.Frame, address: b.Address})
	}
	return nil
}

// insertBoards writes a row for every board position of the machine, dead
// ones included.
func (t *tx) insertBoards(m *machine, cm *config.Machine) error {
	n := 3 * m.width * m.height
	m.info, m.boards, m.phys = make([]boardInfo, n), newBoardTable(n), make(map[Physical]int, n)
	pos := make(map[geometry.Board]config.BoardPos, n)
	for _, p := range slices.Concat(cm.Boards, cm.DeadBoardPositions) {
		pos[p.Board] = p
	}
	dead := make(map[geometry.Board]bool, len(cm.DeadBoards))
	for _, b := range cm.DeadBoards {
		dead[b] = true
	}
	for i := 0; i < n; i++ {
		b := m.board(i)
		p, hasPos := pos[b]
		bi, err := t.insertBoard(m, b, p, hasPos, dead[b])
		if err != nil {
			return err
		}
		m.info[i] = bi
		if hasPos {
			m.phys[bi.phys] = i
		}
	}
	return nil
}

func (t *tx) insertBoard(m *machine, b geometry.Board, p config.BoardPos, hasPos, dead bool) (boardInfo, error) {
	bi := boardInfo{dead: dead, hasPos: hasPos, bmp: -1}
	arg := db.InsertBoardParams{MachineID: m.id, X: int64(b.X), Y: int64(b.Y), Z: int64(b.Z), Dead: b2i(dead)}
	if hasPos {
		bi.phys, bi.ip = Physical{Cabinet: p.Cabinet, Frame: p.Frame, Board: p.BoardNum}, p.IP
		arg.Cabinet, arg.Frame, arg.BoardNum = ptr(int64(p.Cabinet)), ptr(int64(p.Frame)), ptr(int64(p.BoardNum))
		arg.Ip = strPtr(p.IP)
		if k := m.bmpAt(p.Cabinet, p.Frame); k >= 0 {
			bi.bmpID, bi.bmp = m.bmps[k].id, k
			arg.BmpID = &bi.bmpID
		}
	}
	id, err := t.q.InsertBoard(t.ctx, arg)
	if err != nil {
		return bi, t.dbErr("insert board", err)
	}
	bi.id = id
	return bi, nil
}

func (t *tx) insertDeadLinks(m *machine, links []config.DeadLink) error {
	for _, l := range links {
		if !m.has(l.Board) {
			continue
		}
		err := t.q.InsertDeadLink(t.ctx, db.InsertDeadLinkParams{BoardID: m.info[m.index(l.Board)].id,
			Link: int64(l.Link), Source: "config"})
		if err != nil {
			return t.dbErr("insert dead link", err)
		}
	}
	return t.reloadDeadLinks(m)
}

// reloadDeadLinks reads the machine's dead links (configuration and
// operator entries) back from the database.
func (t *tx) reloadDeadLinks(m *machine) error {
	if err := loadDeadLinks(t.ctx, t.q, m); err != nil {
		return t.dbErr("read dead links", err)
	}
	return nil
}

// ---- changing and removing machines ----

// updateMinor applies new tags, dead boards and dead links; jobs keep their
// boards (a board newly dead stays with its job until released).
func (t *tx) updateMinor(om *machine, cm *config.Machine) error {
	m := t.edit(om.id)
	if err := t.q.DeleteMachineTags(t.ctx, m.id); err != nil {
		return t.dbErr("delete machine tags", err)
	}
	if err := t.insertTags(m, cm.Tags); err != nil {
		return err
	}
	if err := t.updateDeadBoards(m, cm.DeadBoards); err != nil {
		return err
	}
	if err := t.q.DeleteConfigDeadLinksOfMachine(t.ctx, m.id); err != nil {
		return t.dbErr("delete dead links", err)
	}
	if err := t.insertDeadLinks(m, cm.DeadLinks); err != nil {
		return err
	}
	minor := cm.MinorFingerprint()
	err := t.q.SetMachineMinorFingerprint(t.ctx, db.SetMachineMinorFingerprintParams{MinorFingerprint: minor, ID: m.id})
	if err != nil {
		return t.dbErr("update machine", err)
	}
	m.minor = minor
	t.change.machine(m.name)
	t.logf("machine changed", "machine", m.name)
	return t.rebuildModel(m)
}

func (t *tx) updateDeadBoards(m *machine, deadBoards []geometry.Board) error {
	dead := make(map[int]bool, len(deadBoards))
	for _, b := range deadBoards {
		if m.has(b) {
			dead[m.index(b)] = true
		}
	}
	m.info = slices.Clone(m.info) // the published copy shares it
	for i := range m.info {
		if m.info[i].dead == dead[i] {
			continue
		}
		if err := t.q.SetBoardDead(t.ctx, db.SetBoardDeadParams{Dead: b2i(dead[i]), ID: m.info[i].id}); err != nil {
			return t.dbErr("set board dead", err)
		}
		m.info[i].dead = dead[i]
	}
	return nil
}

// retireMachine destroys the jobs on a machine, drops its queue and marks
// it retired (kept for history).
func (t *tx) retireMachine(om *machine) error {
	for _, id := range t.liveJobIDs() {
		if j := t.job(id); j.machine == om.id {
			if err := t.destroy(id, ptr(ReasonMachineRemoved), "machine removed or changed"); err != nil {
				return err
			}
		}
	}
	m := t.edit(om.id)
	for _, id := range m.queue { // dequeue replaces the queue
		t.dequeue(m, id)
	}
	t.forgetReservation(m)
	if err := t.q.RetireMachine(t.ctx, db.RetireMachineParams{RetiredAt: ptr(unix(t.now)), ID: m.id}); err != nil {
		return t.dbErr("retire machine", err)
	}
	t.retired = append(t.retired, m.id)
	t.change.machine(m.name)
	t.logf("machine retired", "machine", m.name)
	return nil
}

// recreateMachine replaces a machine whose layout changed (see
// carryOverAll for the boards it shares with the old one).
func (t *tx) recreateMachine(om *machine, cm *config.Machine, priority int) (*machine, error) {
	if err := t.retireMachine(om); err != nil {
		return nil, err
	}
	m, err := t.createMachine(cm, priority)
	if err == nil {
		m.drain = om.drain // a drain belongs to the machine's name
	}
	return m, err
}

type slotKey struct {
	address  string
	boardNum int
}

func slotOf(m *machine, i int) (slotKey, bool) {
	bi := m.info[i]
	if !bi.hasPos {
		return slotKey{}, false
	}
	if bi.bmp < 0 {
		return slotKey{}, false
	}
	return slotKey{address: m.bmps[bi.bmp].address, boardNum: bi.phys.Board}, true
}

// carryOverAll: boards of machines retired in this transaction that sit at
// the same physical place (BMP address and board number) as a board of a
// machine created in it carry their power, service and waiting state, and
// their pending operations, over to the new row. So a power-off still in
// progress keeps the board from being reused, and requests for a physical
// board stay in order, also when a machine is re-created or renamed.
func (t *tx) carryOverAll() error {
	if len(t.retired) == 0 || len(t.created) == 0 {
		return nil
	}
	slots := map[slotKey]boardRef{}
	for _, id := range t.created {
		m := t.machine(id)
		for i := range m.info {
			if k, ok := slotOf(m, i); ok {
				slots[k] = boardRef{machine: id, index: i}
			}
		}
	}
	for _, id := range t.retired {
		if err := t.carryOver(t.machine(id), slots); err != nil {
			return err
		}
	}
	for _, id := range t.created {
		if err := t.rebuildModel(t.machine(id)); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) carryOver(old *machine, slots map[slotKey]boardRef) error {
	for i := range old.info {
		k, ok := slotOf(old, i)
		to, found := slots[k]
		if !ok || !found {
			continue
		}
		if err := t.carryBoard(old, i, to); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) carryBoard(old *machine, i int, to boardRef) error {
	d := old.dyn(i)
	from := old.info[i].id
	hasOps := len(t.opsOfBoard(old.info[i].bmpID, from)) > 0
	if d == (boardDyn{}) && !hasOps {
		return nil
	}
	m, j := t.machine(to.machine), to.index
	toID := m.info[j].id
	if hasOps {
		if err := t.moveOps(old.info[i].bmpID, from, m, j); err != nil {
			return err
		}
	}
	if err := t.q.CarryBoardState(t.ctx, carryParams(d, toID, t.now)); err != nil {
		return t.dbErr("carry board state", err)
	}
	if d.oos != "" { // since when, by whom and the last error stay the operator's to read
		if err := t.q.CarryBoardNotes(t.ctx, db.CarryBoardNotesParams{OldID: from, NewID: toID}); err != nil {
			return t.dbErr("carry board notes", err)
		}
	}
	if d.waiting != 0 {
		if err := t.q.FreeBoard(t.ctx, from); err != nil {
			return t.dbErr("free old board", err)
		}
	}
	t.setBoard(m.id, j, boardDyn{waiting: d.waiting, waitingSince: d.waitingSince, freeAt: d.freeAt, power: d.power, oos: d.oos})
	return nil
}

func carryParams(d boardDyn, id int64, now time.Time) db.CarryBoardStateParams {
	p := db.CarryBoardStateParams{ID: id, Power: b2i(d.power), PowerChangedAt: ptr(unix(now))}
	if d.oos != "" {
		p.OutOfService, p.OutOfServiceAt = &d.oos, ptr(unix(now))
	}
	if d.waiting != 0 {
		p.WaitingJobID, p.WaitingSince = &d.waiting, ptr(unix(d.waitingSince))
	}
	p.FreeAt = unixPtr(d.freeAt)
	return p
}

// requeueAll re-queues every queued job against the current machines, in
// job order; a job no machine can hold any more is cancelled.
func (t *tx) requeueAll() error {
	for _, id := range t.liveJobIDs() {
		if j := t.job(id); j.state == StateQueued {
			if err := t.requeueOn(j); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tx) requeueOn(j *job) error {
	want := t.candidates(j)
	if len(want) == 0 {
		return t.destroy(j.id, ptr(CancelledPrefix+ReasonNoMachines), "no machine can hold it after reconfiguration")
	}
	for _, m := range t.machines() {
		wanted := slices.ContainsFunc(want, func(w *machine) bool { return w.id == m.id })
		switch {
		case wanted && !m.queued(j.id):
			t.enqueue(m, j.id)
		case !wanted && m.queued(j.id):
			t.dequeue(m, j.id)
		}
	}
	return nil
}
