package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// reservationOf reads machine m's reservation from the admin API.
func reservationOf(t *testing.T, httpAddr, m string) string {
	t.Helper()
	_, body := testutil.HTTPGet(t, httpAddr, "/api/v1/machines/"+m)
	var got struct {
		Reservation json.RawMessage `json:"reservation"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("machine %s: %v\n%s", m, err, body)
	}
	return string(got.Reservation)
}

// triadsOf lists the x of the triads a job's boards are on (a one-row
// machine).
func triadsOf(t *testing.T, c *client.Client, id int64) map[int]bool {
	t.Helper()
	info, err := c.GetJobMachineInfo(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	xs := map[int]bool{}
	for _, b := range info.Boards {
		xs[b[0]] = true
	}
	return xs
}

// TestReservationSurvivesAKilledServer: the region a blocked head reserved
// is the one a server killed with SIGKILL finds again after its restart,
// although choosing anew would pick another; jobs are let in beside it and
// the head gets it once the job in it ends. On a 4×1 machine with
// one-triad jobs a, b, c on triads 0-2, the 2×1 head reserves triads 2-3.
func TestReservationSurvivesAKilledServer(t *testing.T) {
	spallocd, _ := binaries(t)
	dir := t.TempDir()
	cfgPath, dbPath := filepath.Join(dir, "spalloc.toml"), filepath.Join(dir, "db.sqlite")
	writeFile(t, cfgPath, testutil.MachineTOML("m", 4, "10.41.0.0", "10.41.1")+
		"fake_bmp = { power_delay = \"0s\", link_delay = \"0s\" }\n")
	s := testutil.StartServer(t, testutil.Binaries{Spallocd: spallocd}, "--config", cfgPath, "--db", dbPath)
	c := dial(t, s.V1)
	var small []int64
	for x := range 3 {
		id := createJob(t, c, 1, 1)
		awaitState(t, c, id, client.StateReady)
		if xs := triadsOf(t, c, id); !xs[x] || len(xs) != 1 {
			t.Fatalf("job %d on triads %v, want %d", id, xs, x)
		}
		small = append(small, id)
	}
	head := createJob(t, c, 2, 1)
	want := fmt.Sprintf(`{"job":%d,"x":2,"y":0,"w":2,"h":1}`, head)
	if got := reservationOf(t, s.HTTP, "m"); got != want {
		t.Fatalf("reservation %s, want %s", got, want)
	}
	if _, err := c.Call(ctxT(t), "destroy_job", []any{small[0]}, nil); err != nil {
		t.Fatal(err)
	}
	// Triad 0 is free: a fresh choice would now take triads 0-1 (meeting b
	// alone, as 2-3 meets c alone, and further left).
	s.Kill()

	s = testutil.StartServer(t, testutil.Binaries{Spallocd: spallocd}, "--config", cfgPath, "--db", dbPath)
	c = dial(t, s.V1)
	if got := reservationOf(t, s.HTTP, "m"); got != want {
		t.Fatalf("reservation after a killed server %s, want %s", got, want)
	}
	beside := createJob(t, c, 1, 1) // fits on triad 0, outside the region
	awaitState(t, c, beside, client.StateReady)
	if xs := triadsOf(t, c, beside); !xs[0] || len(xs) != 1 {
		t.Fatalf("job beside the reservation on triads %v, want 0", xs)
	}
	if st := state(t, c, head); st.State != client.StateQueued {
		t.Fatalf("head %+v, want queued while c holds triad 2", st)
	}
	if _, err := c.Call(ctxT(t), "destroy_job", []any{small[2]}, nil); err != nil {
		t.Fatal(err)
	}
	awaitState(t, c, head, client.StateReady)
	if xs := triadsOf(t, c, head); !xs[2] || !xs[3] || len(xs) != 2 {
		t.Fatalf("head on triads %v, want its region 2-3", xs)
	}
	if got := reservationOf(t, s.HTTP, "m"); got != "null" {
		t.Errorf("reservation once the head runs: %s, want null", got)
	}
}
