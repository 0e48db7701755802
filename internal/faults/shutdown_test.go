package faults

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// shutdownBound is the README's bound on a graceful stop ("Signals").
const shutdownBound = 5 * time.Second

// TestStopWithinItsBound: SIGTERM while a power-on is on its way to a slow
// BMP (the fake answers a power-on after 4 s, longer than the stop leaves
// it) stops spallocd with exit 0 within the README's bound; the power-on cut
// short is given back, and after a restart it is done again and the job
// becomes ready.
func TestStopWithinItsBound(t *testing.T) {
	r := newRig(t, "power_on_timeout = \"30s\"\n", "--power-delay", "4s")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	id := createJob(t, c, []any{1}, nil)
	testutil.Eventually(t, 10*time.Second, "a BMP worker claims the power-on", func() bool { return powerOnClaimed(t, srv) })
	time.Sleep(200 * time.Millisecond) // the claimed power-on is sent at once
	replies := r.proxy.Stats().Replies.Received

	began := time.Now()
	code := srv.Stop(t)
	took := time.Since(began)
	t.Logf("stopped %v after SIGTERM, with a power-on in flight", took.Round(time.Millisecond))
	if code != 0 || took > shutdownBound {
		t.Fatalf("exit %d after %v, want 0 within %v; output:\n%s", code, took, shutdownBound, srv.Output())
	}
	out := srv.Output()
	if strings.Contains(out, "did not stop in time") || !strings.Contains(out, "released claimed BMP operations not carried out") {
		t.Fatalf("the stop did not give back the power-on cut short, or a component overran; output:\n%s", out)
	}

	// The fake answers one datagram at a time: let it finish the power-on
	// it was given before the next server talks to it.
	testutil.WaitFor(t, func() bool { return r.proxy.Stats().Replies.Received > replies })
	srv = r.start(t)
	c = testutil.Dial(t, srv.V1)
	awaitState(t, c, id, client.StateReady)
}

// powerOnClaimed reports whether a BMP worker of srv holds a power-on.
func powerOnClaimed(t *testing.T, srv *testutil.Server) bool {
	t.Helper()
	code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/operations")
	if code != 200 {
		t.Fatalf("/api/v1/operations: %d %s", code, body)
	}
	var ops []struct {
		Op        string   `json:"op"`
		ClaimedAt *float64 `json:"claimed_at"`
	}
	if err := json.Unmarshal([]byte(body), &ops); err != nil {
		t.Fatalf("/api/v1/operations: %v: %s", err, body)
	}
	for _, o := range ops {
		if o.Op == "power_on" && o.ClaimedAt != nil {
			return true
		}
	}
	return false
}
