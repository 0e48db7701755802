package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// awaitUnreachable waits until the server says whether the machine's BMP
// answers.
func awaitUnreachable(t *testing.T, srv *testutil.Server, unreachable bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("the BMP is unreachable: %v", unreachable), func() bool {
		_, down := machineState(t, srv)
		return down == unreachable
	})
}

// A BMP outage does not destroy jobs (issue 13, defect 2): when the
// machine's only BMP stops answering, the job being powered goes back to the
// queue and waits for it, with a reason naming it, also across a restart
// of the server; when the BMP answers again the job is placed and powered.
// No board is taken out of service.
func TestBMPOutageKeepsJobsQueued(t *testing.T) {
	r := newRig(t, "power_on_timeout = \"300ms\"\npower_off_timeout = \"300ms\"\n")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	r.proxy.SetFault(udpproxy.Both, udpproxy.Fault{Drop: 1})
	id := createJob(t, c, []any{1}, nil)
	awaitUnreachable(t, srv, true)
	awaitState(t, c, id, client.StateQueued)
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/jobs/"+strconv.FormatInt(id, 10)); code != 200 ||
		!strings.Contains(body, "the BMP of cabinet 0, frame 0") || !strings.Contains(body, "does not answer") {
		t.Fatalf("the waiting job: %d %s, want a reason naming the BMP", code, body)
	}

	if code := srv.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d", code)
	}
	srv = r.start(t) // the BMP is still down
	c = testutil.Dial(t, srv.V1)
	awaitUnreachable(t, srv, true)
	awaitState(t, c, id, client.StateQueued)

	r.proxy.Heal()
	awaitUnreachable(t, srv, false)
	awaitState(t, c, id, client.StateReady)
	if states, _ := machineState(t, srv); slices.Contains(states, "out_of_service") {
		t.Errorf("boards %v: taken out of service by the outage", states)
	}
}

// A full disk (issue 12, item 5): every write fails with an exception and
// changes nothing; after three failed writes in a row /healthz says writes
// fail (503); reads go on; once there is space again writes succeed, the
// server is healthy again, and every job it acknowledged is there after a
// restart.
func TestFullDiskMakesWritesUnhealthyUntilSpaceReturns(t *testing.T) {
	r := newRig(t, "")
	dir := testutil.SmallFS(t, 16<<20)
	r.db = filepath.Join(dir, "spalloc.db")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	before := createJob(t, c, []any{1}, nil)
	awaitState(t, c, before, client.StateReady)

	filler := filepath.Join(dir, "filler")
	acked := fillUntilWritesFail(t, c, filler)
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/healthz"); code != 503 || !strings.Contains(body, `"writes"`) {
		t.Fatalf("/healthz on a full disk: %d %s, want 503 saying writes fail", code, body)
	}
	if st, err := c.GetJobState(testutil.Ctx(t), before); err != nil || st.State != client.StateReady {
		t.Fatalf("get_job_state on a full disk: %+v %v", st, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := createJob(t, c, []any{1}, nil)
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/healthz"); code != 200 {
		t.Fatalf("/healthz with space again: %d %s", code, body)
	}
	awaitState(t, c, after, client.StateReady)
	if code := srv.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d", code)
	}
	srv = r.start(t)
	c = testutil.Dial(t, srv.V1)
	for _, id := range []int64{before, after} {
		if st, err := c.GetJobState(testutil.Ctx(t), id); err != nil || st.State != client.StateReady {
			t.Fatalf("job %d after a restart: %+v %v", id, st, err)
		}
	}
	for _, id := range acked {
		if st, err := c.GetJobState(testutil.Ctx(t), id); err != nil || st.State != client.StateDestroyed {
			t.Fatalf("job %d, acknowledged while the disk filled, after a restart: %+v %v", id, st, err)
		}
	}
	if st, err := c.GetJobState(testutil.Ctx(t), after+1); err != nil || st.State != 0 {
		t.Fatalf("job %d (after the last acknowledged one): %+v %v, want unknown", after+1, st, err)
	}
}

// fillUntilWritesFail fills the file system, then creates jobs until three
// creates in a row fail. A full disk does not fail every write at once:
// SQLite reuses the space its write-ahead log already holds, and its
// checkpoints can make that space free again while they need no new page;
// only writes that grow the database end that. The jobs name a machine
// there is none of, so each is recorded (and destroyed) without a BMP
// operation. It returns the jobs acknowledged on the way: they must
// survive like any other.
func fillUntilWritesFail(t *testing.T, c *client.Client, filler string) (acked []int64) {
	t.Helper()
	fill(t, filler)
	owner := strings.Repeat("f", 256)
	for failed, tries := 0, 0; failed < 3; tries++ {
		if tries == 5000 {
			t.Fatal("5,000 create_job calls on a full disk, and writes still succeed")
		}
		id, err := c.CreateJob(testutil.Ctx(t), []any{1}, map[string]any{"owner": owner, "keepalive": nil, "machine": "nowhere"})
		var exc *client.ServerError
		switch {
		case err == nil:
			acked, failed = append(acked, id), 0
		case errors.As(err, &exc):
			failed++
		default:
			t.Fatalf("create_job on a full disk: %v, want a job id or an exception", err)
		}
	}
	return acked
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			return // full
		}
	}
}

// Claims of BMP operations do not outlive their worker's failure (issue 13,
// defect 1): a job is being powered when the disk fills, so its worker
// cannot record the outcomes; once there is space again, the job becomes
// ready (the outcomes recorded, or the operations handed out again when
// their lease runs out) instead of staying in state power until a restart.
func TestOutcomesLostToAFullDiskAreRedone(t *testing.T) {
	bins := testutil.Build(t)
	dir := testutil.SmallFS(t, 16<<20)
	bmpAddr := testutil.StartFakeBMP(t, bins, "--power-delay", "6s")
	config := filepath.Join(t.TempDir(), "spalloc.toml")
	testutil.WriteFile(t, config, testutil.FastTOML+"retries = 0\npower_on_timeout = \"8s\"\nfpga_check_rounds = 1\nrequest_attempts = 1\n"+
		testutil.MachineTOML("m", 2, bmpAddr, "10.9.0"))
	srv := testutil.StartServer(t, bins, "--config", config, "--db", filepath.Join(dir, "spalloc.db"))
	c := testutil.Dial(t, srv.V1)

	id := createJob(t, c, []any{1}, nil)
	filler := filepath.Join(dir, "filler")
	fillUntilWritesFail(t, c, filler) // before the power-on (6 s) is answered
	if st, err := c.GetJobState(testutil.Ctx(t), id); err != nil || st.State != client.StatePower {
		t.Fatalf("job %d once writes fail: %+v %v, want it still in state power (the fake BMP answers after 6 s)", id, st, err)
	}
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/healthz"); code != 503 {
		t.Fatalf("/healthz once writes fail: %d %s, want 503", code, body)
	}
	// The power-on is answered, and the worker cannot record it.
	srv.Await(t, regexp.MustCompile(`recording BMP outcomes failed`))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// The lease of the claim (the worst case under these settings, about
	// 9 s, plus 10 s) bounds the wait.
	testutil.Eventually(t, 60*time.Second, "the job is ready once the disk has space again", func() bool {
		st, err := c.GetJobState(testutil.Ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		return st.State == client.StateReady
	})
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/api/v1/consistency"); code != 200 || !strings.Contains(body, `"consistent":true`) {
		t.Fatalf("consistency after the full disk: %d %s", code, body)
	}
}
