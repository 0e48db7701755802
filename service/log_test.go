package service_test

import (
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

func loggedEnv(t *testing.T, toml string) (*env, *testutil.LogBuffer) {
	logs := &testutil.LogBuffer{}
	return newEnv(t, toml, testutil.WithLogger(logs.Logger())), logs
}

// Job requests are logged in the user's terms (issue 14, item 9).
func TestJobRequestsAreLoggedInTheUsersTerms(t *testing.T) {
	e, logs := loggedEnv(t, testutil.GridTOML(grid("m", 2, 2)))
	e.create(rect(2, 1), onMachine("m"))
	e.create(nb(7), maxDeadBoards(0), tags("default"), keepalive(30))
	for _, want := range []string{
		`request="2x1 triads, machine m, min_ratio 0"`,
		`request="7 boards, tags default, min_ratio 0, max_dead_boards 0" keepalive=30s`,
	} {
		if got := logs.Lines("job created", want); len(got) != 1 {
			t.Errorf("log lines with %s: %q", want, got)
		}
	}
	if got := logs.Lines(`"kind"`); len(got) != 0 {
		t.Errorf("internal JSON in the log: %q", got)
	}
}

// An operator action is logged once, with who acted.
func TestOperatorActionsAreLoggedOnceWithWhoActed(t *testing.T) {
	e, logs := loggedEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	ctx := service.WithActor(e.ctx, "alice", "10.9.8.7:4242")
	if err := e.TakeBoardOutOfService(ctx, "m", b(0, 0, 1), "fan noise", false); err != nil {
		t.Fatal(err)
	}
	if err := e.EmergencyStop(ctx, "fire drill"); err != nil {
		t.Fatal(err)
	}
	if err := e.Resume(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{"level=INFO", "operator took board out of service", "by=alice from=10.9.8.7:4242", `reason="fan noise"`, `board="(0, 0, 1)"`},
		{"level=WARN", "emergency stop", "by=alice from=10.9.8.7:4242", `reason="fire drill"`},
		{"level=WARN", "resumed after emergency stop", "by=operator"},
	} {
		if got := logs.Lines(want...); len(got) != 1 {
			t.Errorf("log lines with %q: %q", want, got)
		}
	}
}

// A BMP's reachability is logged once per transition: WARN when it stops
// answering, INFO when it answers again (issue 14, item 9).
func TestBMPReachabilityIsLoggedOncePerTransition(t *testing.T) {
	e, logs := loggedEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	bmp := e.bmpOf("m", 0, 0)
	e.setReachable(bmp, false, "no reply")
	e.setReachable(bmp, false, "no reply")
	id := e.create(one()) // its operations fail unanswered too
	_, ops := e.opKinds()
	e.completeDown(ops)
	e.wantState(id, service.StateQueued)
	e.setReachable(bmp, true, "")
	e.setReachable(bmp, true, "")
	if got := logs.Lines("BMP unreachable"); len(got) != 1 || !strings.Contains(got[0], "level=WARN") {
		t.Errorf("unreachable logged %q, want once at WARN", got)
	}
	if got := logs.Lines("BMP answers again"); len(got) != 1 || !strings.Contains(got[0], "level=INFO") {
		t.Errorf("reachable again logged %q, want once at INFO", got)
	}
}
