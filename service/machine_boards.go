package service

// What the allocator sees of a machine: its model (which boards and links
// exist and work) and its occupancy (what each board does now). Both are
// derived from the boards' states here and nowhere else.

import (
	"sync"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/geometry"
)

// allocModel is a machine's allocator model with its feasibility cache. It
// is immutable apart from the cache; a change of dead boards, links or
// service builds a new one.
type allocModel struct {
	m        *allocator.Machine
	mu       sync.Mutex
	feasible map[allocator.Request]bool
}

// Feasible answers allocator.Feasible, cached per request.
func (a *allocModel) Feasible(r allocator.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok, seen := a.feasible[r]
	if !seen {
		ok = allocator.Feasible(a.m, r)
		a.feasible[r] = ok
	}
	return ok
}

// gone reports whether a board is missing from the machine's model: dead
// in the configuration or out of service. A board behind a BMP that does
// not answer is not gone, only unavailable for now (boardUse), so that
// "could this machine ever hold the job" does not change with the BMP.
func (m *machine) gone(i int) bool { return m.info[i].dead || m.dyn(i).oos != "" }

// buildModel makes the allocator's model of a machine.
func buildModel(m *machine) (*allocModel, error) {
	var dead []geometry.Board
	for i := range m.info {
		if m.gone(i) {
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
	return &allocModel{m: am, feasible: map[allocator.Request]bool{}}, nil
}

// rebuildModel refreshes a machine's model after dead boards, links or
// service changed (m is the transaction's copy).
func (t *tx) rebuildModel(m *machine) error {
	model, err := buildModel(m)
	if err != nil {
		return t.s.internal("machine model", err)
	}
	m.model = model
	t.bumpGain(m)
	return nil
}

// useOf is the one rule for a board's occupancy: held by its job (as a
// single board or part of a block), waiting for its power-off, unavailable
// (out of service, or its BMP does not answer), or free.
func useOf(d boardDyn, heldSingle, bmpDown bool) allocator.BoardUse {
	switch {
	case d.job != 0 && heldSingle:
		return allocator.HeldSingle
	case d.job != 0:
		return allocator.HeldBlock
	case d.waiting != 0:
		return allocator.Waiting
	case d.oos != "" || bmpDown:
		return allocator.Unavailable
	}
	return allocator.Free
}

// boardUse is board i's occupancy as a transaction sees it.
func (t *tx) boardUse(m *machine, i int) allocator.BoardUse {
	d := m.dyn(i)
	single := false
	if d.job != 0 {
		if j := t.job(d.job); j != nil {
			single = j.single
		}
	}
	return useOf(d, single, m.bmpDown(i))
}

// occupancyOf derives a machine's whole occupancy from its boards (load,
// consistency check); jobs tells which jobs hold single boards.
func occupancyOf(m *machine, single func(job int64) bool) *allocator.Occupancy {
	occ := &allocator.Occupancy{Use: make([]allocator.BoardUse, len(m.info))}
	for i := range m.info {
		d := m.dyn(i)
		occ.Use[i] = useOf(d, d.job != 0 && single(d.job), m.bmpDown(i))
	}
	return occ
}
