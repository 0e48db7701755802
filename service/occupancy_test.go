package service_test

import (
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// Occupancy is derived from a board's state in one place (issue 13,
// defect 3): a board an operator took out of service while its job held
// it waits for its power-off like any released board, before a restart
// and after: no block may take its triad meanwhile.
func TestOccupancyOfAReleasedBoardOutOfServiceSurvivesRestart(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	held := e.create(rect(1, 1))
	e.finish()
	if err := e.TakeBoardOutOfService(e.ctx, "m", b(0, 0, 1), "flaky", false); err != nil {
		t.Fatal(err)
	}
	e.destroy(held)
	_, ops := e.opKinds()
	var others []service.BMPOp
	for _, op := range ops {
		if op.Board != b(0, 0, 1) {
			others = append(others, op)
		}
	}
	e.completeOps(others, nil) // (0,0,1)'s power-off is still in flight
	next := e.create(rect(1, 1))
	e.wantState(next, service.StateQueued)
	e.consistent()
	e.Restart(t)
	e.wantState(next, service.StateQueued) // (0,0,1) still waits for its power-off
	e.consistent()
	e.finish()
	e.wantState(next, service.StateReady)
	e.consistent()
}
