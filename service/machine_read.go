package service

// The v1 protocol's machine reads, answered from the committed world.

import (
	"context"
	"slices"

	"github.com/spalloc/spallocd/service/geometry"
)

// ListMachines lists the machines in priority order. Dead boards include
// boards taken out of service and boards of unreachable BMPs (no job can
// get them either).
func (s *Service) ListMachines(ctx context.Context) ([]MachineSummary, error) {
	w := s.world.Load()
	out := make([]MachineSummary, len(w.machines))
	for i, m := range w.machines {
		out[i] = machineSummary(m)
	}
	return out, nil
}

func machineSummary(m *machine) MachineSummary {
	sum := MachineSummary{Name: m.name, Tags: slices.Clone(m.tags), Width: m.width, Height: m.height,
		DeadBoards: []geometry.Board{}, DeadLinks: slices.Clone(m.deadLinks)}
	if m.drain != nil {
		d := *m.drain // callers may change what they are given
		sum.Drained = &d
	}
	if sum.DeadLinks == nil {
		sum.DeadLinks = []DeadLink{}
	}
	for i := range m.info {
		if m.gone(i) || m.bmpDown(i) {
			sum.DeadBoards = append(sum.DeadBoards, m.board(i))
		}
		if m.absent(i) {
			sum.Absent = append(sum.Absent, m.board(i))
		}
	}
	sortBoards(sum.DeadBoards)
	if r := m.reservation; r != nil {
		sum.Reservation = &Reservation{Job: r.job, X: r.region.X, Y: r.region.Y,
			Width: r.region.W, Height: r.region.H, Since: r.at}
	}
	return sum
}

// absent reports whether board slot i is one the machine does not have. A
// single-board machine (single_board in the configuration: one triad whose
// only board with a position is (0, 0, 0)) keeps its other two slots as
// dead boards, because the v1 protocol lists them so. To an operator they
// are not boards at all, let alone boards lost: the board map, the board
// counts and the board gauges leave them out, as check-config does.
func (m *machine) absent(i int) bool {
	if i == 0 || m.width != 1 || m.height != 1 {
		return false
	}
	in := m.info
	return in[0].hasPos && !in[1].hasPos && !in[2].hasPos && in[1].dead && in[2].dead
}

// BoardPosition returns nil when the machine or board does not exist, or the
// board has no configured position.
func (s *Service) BoardPosition(ctx context.Context, machine string, b geometry.Board) (*Physical, error) {
	m := s.world.Load().machineNamed(machine)
	if m == nil || !m.has(b) || !m.info[m.index(b)].hasPos {
		return nil, nil
	}
	p := m.info[m.index(b)].phys
	return &p, nil
}

// BoardAtPosition returns nil when the machine or slot does not exist.
func (s *Service) BoardAtPosition(ctx context.Context, machine string, p Physical) (*geometry.Board, error) {
	m := s.world.Load().machineNamed(machine)
	if m == nil {
		return nil, nil
	}
	i, ok := m.phys[p]
	if !ok {
		return nil, nil
	}
	b := m.board(i)
	return &b, nil
}
