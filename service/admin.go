package service

// Operator operations behind the HTTP admin API and the dashboard: reads of
// the board map, jobs with their history, BMP operations and reports, and
// the mutations an operator may make. Every mutation is one transaction
// through the service's writer and publishes what it changed.

import (
	"context"

	"github.com/spalloc/spallocd/service/geometry"
)

var errAdminTODO = Unavailable("not implemented yet")

// MachineDetail returns a live machine with its full board map.
func (s *Service) MachineDetail(ctx context.Context, name string) (*MachineDetail, error) {
	return nil, errAdminTODO
}

// Jobs lists jobs matching f, newest first, with the total number of
// matches before paging.
func (s *Service) Jobs(ctx context.Context, f JobFilter) ([]JobDetail, int, error) {
	return nil, 0, errAdminTODO
}

// JobDetail returns one job with its boards, pending operations, history
// and, while queued, why it waits.
func (s *Service) JobDetail(ctx context.Context, id int64) (*JobDetail, error) {
	return nil, errAdminTODO
}

// BoardHistory lists the allocations of a board, newest first.
func (s *Service) BoardHistory(ctx context.Context, machine string, b geometry.Board) ([]BoardAllocation, error) {
	return nil, errAdminTODO
}

// BoardReports lists the problem reports filed against a board, newest first.
func (s *Service) BoardReports(ctx context.Context, machine string, b geometry.Board) ([]BoardReport, error) {
	return nil, errAdminTODO
}

// PendingOps lists the open BMP operations in the order they were requested.
func (s *Service) PendingOps(ctx context.Context) ([]PendingOp, error) {
	return nil, errAdminTODO
}

// SetBoardInService takes a board out of service (with a reason) or returns
// it. A job holding the board keeps it.
func (s *Service) SetBoardInService(ctx context.Context, machine string, b geometry.Board, inService bool, reason string) error {
	return errAdminTODO
}

// TakeBoardOutOfService takes a board out of service and, when destroyJob is
// set, destroys the job holding it, in one transaction.
func (s *Service) TakeBoardOutOfService(ctx context.Context, machine string, b geometry.Board, reason string, destroyJob bool) error {
	return errAdminTODO
}

// SetLinkDead marks the link leaving b in direction l (and its opposite
// end) dead or alive.
func (s *Service) SetLinkDead(ctx context.Context, machine string, b geometry.Board, l geometry.Link, dead bool) error {
	return errAdminTODO
}

// PowerBoard powers a board that is not in a job on or off for maintenance.
func (s *Service) PowerBoard(ctx context.Context, machine string, b geometry.Board, on bool) error {
	return errAdminTODO
}

// EmergencyStop destroys every job, powers every board off and refuses new
// jobs until Resume; the state survives a restart.
func (s *Service) EmergencyStop(ctx context.Context, reason string) error {
	return errAdminTODO
}

// Resume ends an emergency stop.
func (s *Service) Resume(ctx context.Context) error {
	return errAdminTODO
}

// Health reports whether the database answers and whether an emergency stop
// is in force.
func (s *Service) Health(ctx context.Context) Health {
	return Health{}
}

// Stats returns the gauges of /metrics.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	return Stats{}, errAdminTODO
}

// LastJobEventID returns the id of the newest job history entry (0 when
// there is none): the starting watermark of AllocationWaits.
func (s *Service) LastJobEventID(ctx context.Context) (int64, error) {
	return 0, errAdminTODO
}

// AllocationWaits returns, for each allocation recorded in the job history
// after event id after, how long the job had been queued (seconds), and the
// id of the newest history entry examined (the next watermark).
func (s *Service) AllocationWaits(ctx context.Context, after int64) ([]float64, int64, error) {
	return nil, after, errAdminTODO
}

// Consistency runs the consistency check of spec §1 and returns the
// problems found (none = consistent).
func (s *Service) Consistency(ctx context.Context) ([]string, error) {
	return nil, errAdminTODO
}
