package faults

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// bmpLinkTOML: power commands time out quickly and are resent once (safe:
// a power command may be repeated), as a lossy link wants.
const bmpLinkTOML = `power_on_timeout = "500ms"
power_on_retries = 1
power_off_timeout = "500ms"
power_off_retries = 1
`

// machineState is machine m's board states and whether its BMP is marked
// unreachable, from the admin API.
func machineState(t *testing.T, srv *testutil.Server) (states []string, unreachable bool) {
	t.Helper()
	code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/machines/m")
	if code != 200 {
		t.Fatalf("GET /api/v1/machines/m: %d %s", code, body)
	}
	var m struct {
		Boards []struct{ State string }
		BMPs   []struct{ Unreachable bool } `json:"bmps"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, b := range m.Boards {
		states = append(states, b.State)
	}
	return states, len(m.BMPs) == 1 && m.BMPs[0].Unreachable
}

// every reports whether every state is one of want.
func every(states []string, want ...string) bool {
	return !slices.ContainsFunc(states, func(s string) bool { return !slices.Contains(want, s) })
}

// TestBMPLinkFaultsHeal is issue 12.2: through a UDP proxy in front of a
// fakebmp process, a sick link to the BMP never takes a board out of
// service. With 30% of the datagrams lost, or every reply garbled, jobs
// become ready; with replies late or cut short, the BMP is marked
// unreachable and its boards bmp_unreachable (or waiting for a power-off);
// once the link heals the boards are free again by themselves, and a new
// job becomes ready.
func TestBMPLinkFaultsHeal(t *testing.T) {
	r := newRig(t, bmpLinkTOML)
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	noneOutOfService := func(t *testing.T) {
		t.Helper()
		if states, _ := machineState(t, srv); slices.Contains(states, "out_of_service") {
			t.Fatalf("boards out of service: %v", states)
		}
	}
	allFree := func() bool {
		states, down := machineState(t, srv)
		return !down && every(states, "free")
	}
	// jobsReady creates n one-board jobs, waits until they are ready and
	// destroys them.
	jobsReady := func(t *testing.T, n int) {
		t.Helper()
		var ids []int64
		for range n {
			ids = append(ids, createJob(t, c, []any{1}, nil))
		}
		for _, id := range ids {
			testutil.Eventually(t, time.Minute, "the jobs are ready", func() bool {
				st, err := c.GetJobState(testutil.Ctx(t), id)
				if err != nil || st.State == client.StateDestroyed {
					t.Fatalf("job %d: %+v %v", id, st, err)
				}
				return st.State == client.StateReady
			})
		}
		noneOutOfService(t)
		for _, id := range ids {
			if err := c.DestroyJob(testutil.Ctx(t), id, nil); err != nil {
				t.Fatal(err)
			}
		}
	}

	lossy := []struct {
		name  string
		dir   udpproxy.Direction
		fault udpproxy.Fault
	}{
		{"30% of datagrams lost both ways", udpproxy.Both, udpproxy.Fault{Drop: 0.3}},
		{"every reply garbled", udpproxy.Replies, udpproxy.Fault{Garble: 1}},
	}
	for _, tc := range lossy {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.proxy.SetFault(tc.dir, tc.fault); err != nil {
				t.Fatal(err)
			}
			jobsReady(t, 3)
			testutil.Eventually(t, time.Minute, "every board is free", allFree)
			r.proxy.Heal()
			noneOutOfService(t)
		})
	}

	broken := []struct {
		name  string
		fault udpproxy.Fault
	}{
		{"replies later than every time-out", udpproxy.Fault{Delay: time.Second}},
		{"replies cut to 12 bytes", udpproxy.Fault{Truncate: 12}},
		{"replies cut to 14 bytes", udpproxy.Fault{Truncate: 14}},
	}
	for _, tc := range broken {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.proxy.SetFault(udpproxy.Replies, tc.fault); err != nil {
				t.Fatal(err)
			}
			id := createJob(t, c, []any{1}, nil)
			testutil.Eventually(t, 30*time.Second, "the BMP is marked unreachable", func() bool { _, down := machineState(t, srv); return down })
			if states, _ := machineState(t, srv); !every(states, "bmp_unreachable", "waiting") {
				t.Errorf("boards %v, want bmp_unreachable (or waiting for a power-off)", states)
			}
			noneOutOfService(t)
			if err := c.DestroyJob(testutil.Ctx(t), id, nil); err != nil {
				t.Fatal(err)
			}

			r.proxy.Heal()
			healed := time.Now()
			testutil.Eventually(t, 30*time.Second, "every board is free again", allFree)
			t.Logf("boards free %v after the link healed", time.Since(healed).Round(10*time.Millisecond))
			jobsReady(t, 1)
			testutil.Eventually(t, 30*time.Second, "every board is free", allFree)
		})
	}
	reachabilityLoggedOncePerTransition(t, srv.Output())
}

// reachabilityLoggedOncePerTransition checks a server's log (issue 14.9):
// each time the BMP is found unreachable one WARN line says so, and one
// INFO line when it answers again, however many probes went unanswered.
func reachabilityLoggedOncePerTransition(t *testing.T, log string) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "BMP unreachable"):
			got = append(got, "down")
			if !strings.Contains(line, "level=WARN") {
				t.Errorf("not at WARN: %s", line)
			}
		case strings.Contains(line, "BMP answers again"):
			got = append(got, "up")
			if !strings.Contains(line, "level=INFO") {
				t.Errorf("not at INFO: %s", line)
			}
		}
	}
	if len(got) < 6 || len(got)%2 != 0 {
		t.Errorf("reachability logged as %v, want down and up for each of the 3 broken links", got)
	}
	for i, s := range got {
		if want := []string{"down", "up"}[i%2]; s != want {
			t.Fatalf("reachability logged as %v: line %d is %q, want %q", got, i+1, s, want)
		}
	}
}
