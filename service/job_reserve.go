package service

// The reserve scheduling policy (docs/scheduling.md, "Order"). Each
// machine serves its queue in order, as under fifo; but when the head of
// the queue cannot be placed it reserves a region of triads, chosen once
// when it becomes the blocked head, and the jobs behind it are placed
// wherever they fit outside that region. Nothing enters the region while
// the head waits, so the head starts at the latest when the jobs that held
// boards in it at reservation time have ended: no job waits longer than
// its turn at the head plus the longest of those jobs, and no duration is
// ever needed.
//
// The reservation is state a restart needs (its guarantee rests on the
// region chosen when the head became blocked): it is a row of
// reservations, written in the transaction that chooses or forgets it,
// and loaded at Open.

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/config"
)

// reservation is the region a machine's blocked head holds.
type reservation struct {
	job    int64
	region allocator.Region
	at     time.Time // when it was chosen
	// checked is the machine model on which the region was last found to
	// hold the job (when empty); a new model (boards out of service, dead
	// links, reconfiguration) has it checked again. nil: not checked
	// since Open.
	checked *allocModel
}

// sameReservation reports whether two reservations are the same row.
func sameReservation(a, b *reservation) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.job == b.job && a.region == b.region && a.at.Equal(b.at)
}

// serveHint is what queue service (either policy) knows fails on one
// machine, valid while nothing has been freed there (the machine's gain
// is unchanged): occupancy has only grown since, and placement never
// succeeds on more occupancy where it failed on less. It is a hint of the
// writer, published with the commit, so that a transaction that rolls back
// leaves none; a hint can only save a placement attempt. A committed hint
// is shared, never written: a transaction copies it before it adds to it.
type serveHint struct {
	gain   uint64
	whole  map[allocator.Request]bool // requests that fit nowhere on the machine
	region allocator.Region           // the reservation beside recorded
	beside map[allocator.Request]bool // requests that fit nowhere outside region (whole's too)
	// scanned: every job queued behind the head with an id up to scanned
	// is known not to fit outside region (a scan stops advancing it at a
	// job that is not eligible, which may become so without the machine
	// changing). Jobs joining a queue anywhere but at its end count as a
	// gain (enqueue), so a pass looks at the jobs after it only.
	scanned int64
}

// hint returns what is known to fail on m (read only: note failures with
// failed).
func (t *tx) hint(m *machine) *serveHint {
	if h := t.hints[m.id]; h != nil && h.gain == m.gain {
		return h
	}
	if h := t.s.hints[m.id]; h != nil && h.gain == m.gain {
		return h
	}
	h := &serveHint{gain: m.gain, whole: map[allocator.Request]bool{}, beside: map[allocator.Request]bool{}}
	t.hints[m.id] = h
	return h
}

// writable returns the transaction's own copy of m's hint, copying the
// committed one first.
func (t *tx) writable(m *machine) *serveHint {
	h := t.hint(m)
	if t.hints[m.id] != h {
		c := *h
		c.whole, c.beside = maps.Clone(h.whole), maps.Clone(h.beside)
		t.hints[m.id], h = &c, &c
	}
	return h
}

// failed notes that r does not fit on m: anywhere (whole), or outside
// region (beside the reservation).
func (t *tx) failed(m *machine, r allocator.Request, whole bool, region allocator.Region) {
	h := t.writable(m)
	if whole { // then it fits beside no region either
		h.whole[r], h.beside[r] = true, true
		return
	}
	h.besideOf(region)[r] = true
}

// besideOf returns the requests known not to fit outside region, starting
// afresh (from whole) for a new region.
func (h *serveHint) besideOf(region allocator.Region) map[allocator.Request]bool {
	if h.region != region {
		h.region, h.beside, h.scanned = region, maps.Clone(h.whole), 0
	}
	return h.beside
}

// knownToFail reports whether r is known not to fit on m outside region.
func (h *serveHint) knownToFail(r allocator.Request, region allocator.Region) bool {
	if h.region == region {
		return h.beside[r]
	}
	return h.whole[r]
}

// scannedTo is the id up to which the jobs behind the head are known not
// to fit outside region (0: none).
func (h *serveHint) scannedTo(region allocator.Region) int64 {
	if h.region == region {
		return h.scanned
	}
	return 0
}

// scanned notes that every job behind m's head up to id is known not to
// fit outside region (or has been allocated).
func (t *tx) scanned(m *machine, id int64, region allocator.Region) {
	h := t.writable(m)
	h.besideOf(region)
	h.scanned = id
}

// serveQueues runs queue service (doc.go, "Writes"): passes over the
// machines in priority order, each machine allocating at most one job per
// pass, until a pass allocates nothing; a commit never leaves free boards
// beside a job that could have them.
func (t *tx) serveQueues() error {
	serve := t.serveReserving
	switch t.currentSettings().policy {
	case config.PolicyFIFO, "":
		serve = t.serveHead
	}
	for {
		progressed := false
		for _, m := range t.machines() {
			ok, err := serve(t.machine(m.id)) // as earlier machines of the pass left it
			if err != nil {
				return err
			}
			progressed = progressed || ok
		}
		if !progressed {
			return nil
		}
	}
}

// serveReserving is one pass of the reserve policy on m: the head if it
// fits; else the head keeps or takes its reservation, and the first job
// behind it that fits outside the region is allocated.
func (t *tx) serveReserving(m *machine) (bool, error) {
	if ok, _ := t.machineAccepts(m); !ok {
		return false, nil
	}
	h, _ := t.headOf(m)
	if h == nil {
		t.forgetReservation(m)
		return false, nil
	}
	if !t.hint(m).whole[h.areq] {
		if a, ok := allocator.Place(m.model.m, m.occ, h.areq); ok {
			return true, t.allocate(h.id, m, a)
		}
		t.failed(m, h.areq, true, allocator.Region{})
	}
	region := t.reserveFor(m, h)
	m = t.machine(m.id)
	hint := t.hint(m)
	from, _ := slices.BinarySearch(m.queue, max(h.id, hint.scannedTo(region))+1)
	advance := true // every job so far is known not to fit
	// The free space outside the region, made when first needed (most
	// passes find nothing to try): its summary rules out jobs without room,
	// and the placements of the others share its view.
	var pass *allocator.Pass
	var room allocator.Openings
	defer func() {
		if pass != nil {
			pass.Close()
		}
	}()
	for _, id := range m.queue[from:] {
		j := t.job(id)
		switch {
		case j == nil || j.state != StateQueued || hint.knownToFail(j.areq, region):
		case !t.eligible(j):
			advance = false
		default:
			if pass == nil {
				pass = allocator.NewPass(m.model.m, m.occ, region)
				room = pass.Openings()
			}
			if room.MayFit(m.model.m, j.areq) {
				if a, ok := pass.Place(j.areq); ok {
					if advance {
						t.scanned(m, id, region)
					}
					return true, t.allocate(id, m, a)
				}
			}
			t.failed(m, j.areq, false, region)
		}
		if advance {
			t.scanned(m, id, region)
		}
		hint = t.hint(m)
	}
	return false, nil
}

// eligible is jobEligible without the reason.
func (t *tx) eligible(j *job) bool {
	ok, _ := t.jobEligible(j)
	return ok
}

// headOf is the head of m's queue: the first job in it that is queued,
// that m can hold with the boards it has in service now, and that is
// eligible; with its position in the queue. Jobs passed over neither
// wait in line nor block it (they stay queued in case that changes).
func (t *tx) headOf(m *machine) (*job, int) {
	for k, id := range m.queue {
		j := t.job(id)
		if j == nil || j.state != StateQueued || !m.model.Feasible(j.areq) {
			continue
		}
		if ok, _ := t.jobEligible(j); ok {
			return j, k
		}
	}
	return nil, -1
}

// reserveFor returns the region h, the blocked head of m, holds: the one
// it holds already, else a new one (allocator.ChooseRegion). A region is
// never chosen again while its job stays head, unless the machine's model
// changed so that the region can no longer hold the job.
func (t *tx) reserveFor(m *machine, h *job) allocator.Region {
	if r := m.reservation; r != nil && r.job == h.id {
		if r.checked == m.model {
			return r.region
		}
		if t.regionHolds(m, h, r.region) {
			c := *r
			c.checked = m.model
			t.edit(m.id).reservation = &c // memory only: the row is unchanged
			return r.region
		}
		t.logf("reservation no longer holds its job", "job", h.id, "machine", m.name, "region", r.region.String())
	}
	region, ok := allocator.ChooseRegion(m.model.m, m.occ, t.holdings(m), h.areq)
	if !ok { // cannot happen for a head m can hold; be safe
		t.forgetReservation(m)
		return allocator.Region{}
	}
	t.setReservation(m, &reservation{job: h.id, region: region, at: t.now, checked: m.model})
	t.logf("job reserves boards", "job", h.id, "owner", h.owner, "machine", m.name, "region", region.String())
	return region
}

// regionHolds reports whether h could be placed inside region on m empty.
func (t *tx) regionHolds(m *machine, h *job, region allocator.Region) bool {
	occ := &allocator.Occupancy{Use: make([]allocator.BoardUse, len(m.info))}
	for i := range occ.Use {
		if b := m.board(i); b.X < region.X || b.X >= region.X+region.W || b.Y < region.Y || b.Y >= region.Y+region.H {
			occ.Use[i] = allocator.Unavailable
		}
	}
	_, ok := allocator.Place(m.model.m, occ, h.areq)
	return ok
}

// holdings are the jobs holding boards of m, as ChooseRegion counts them.
func (t *tx) holdings(m *machine) []allocator.Holding {
	var out []allocator.Holding
	seen := map[int64]bool{}
	for i := range m.info {
		id := m.dyn(i).job
		if id == 0 || seen[id] {
			continue
		}
		seen[id] = true
		if j := t.job(id); j != nil {
			out = append(out, allocator.Holding{Region: j.block, Boards: allocator.RequestedBoards(j.areq)})
		}
	}
	return out
}

// setReservation gives m a new reservation.
func (t *tx) setReservation(m *machine, r *reservation) {
	t.edit(m.id).reservation = r
	t.reserved[m.id] = true
}

// forgetReservation drops m's reservation, if any.
func (t *tx) forgetReservation(m *machine) {
	if t.machine(m.id).reservation == nil {
		return
	}
	t.edit(m.id).reservation = nil
	t.reserved[m.id] = true
}

// forgetReservationsOf drops every reservation a job holds: it was
// allocated, or destroyed.
func (t *tx) forgetReservationsOf(id int64) {
	for _, m := range t.machines() {
		if r := m.reservation; r != nil && r.job == id {
			t.forgetReservation(m)
		}
	}
}

// forgetAllReservations drops every reservation (the fifo policy has
// none).
func (t *tx) forgetAllReservations() {
	for _, m := range t.machines() {
		t.forgetReservation(m)
	}
}

// writeReservations writes to reservations how the transaction changed
// them.
func (t *tx) writeReservations() error {
	for id := range t.reserved {
		var before, after *reservation
		if m := t.base.machine(id); m != nil {
			before = m.reservation
		}
		if m := t.machine(id); m != nil {
			after = m.reservation
		}
		if sameReservation(before, after) {
			continue
		}
		if after == nil {
			if err := t.q.DeleteReservation(t.ctx, id); err != nil {
				return t.dbErr("forget reservation", err)
			}
			continue
		}
		g := after.region
		err := t.q.SetReservation(t.ctx, db.SetReservationParams{MachineID: id, JobID: after.job,
			X: int64(g.X), Y: int64(g.Y), W: int64(g.W), H: int64(g.H), ReservedAt: unix(after.at)})
		if err != nil {
			return t.dbErr("reserve boards", err)
		}
	}
	return nil
}

// loadReservations attaches the stored reservations to their machines.
func loadReservations(ctx context.Context, q *db.Queries, w *world) error {
	rows, err := q.ListReservations(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if m := w.machine(r.MachineID); m != nil {
			m.reservation = &reservation{job: r.JobID, at: timeAt(r.ReservedAt),
				region: allocator.Region{X: int(r.X), Y: int(r.Y), W: int(r.W), H: int(r.H)}}
		}
	}
	return nil
}
