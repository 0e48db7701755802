package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// TestKillAndRestartLosesNothing kills spallocd with SIGKILL at several
// points (after a create, during a power-on, during a destroy, during a
// reconfiguration) and restarts it on the same database each time.
func TestKillAndRestartLosesNothing(t *testing.T) {
	spallocd, fakebmp := binaries(t)
	dir := t.TempDir()
	bmpAddr := startFakeBMP(t, fakebmp, time.Second)
	cfgPath := filepath.Join(dir, "spalloc.toml")
	writeFile(t, cfgPath, testutil.FastTOML+testutil.MachineTOML("m", 2, bmpAddr, "10.9.0"))
	dbPath := filepath.Join(dir, "spalloc.db")
	start := func() (*proc, *client.Client) {
		p, addr := startServer(t, spallocd, "--config", cfgPath, "--db", dbPath)
		return p, dial(t, addr)
	}

	srv, c := start()
	a := createJob(t, c, 1, 1)
	awaitState(t, c, a, client.StateReady)
	b := createJob(t, c)
	awaitState(t, c, b, client.StateReady)
	cj := createJob(t, c) // single board: power-on takes 1 s at the fake
	awaitState(t, c, cj, client.StatePower)
	d := createJob(t, c, 1, 1) // the other triad is broken by b and cj: queued
	if st := state(t, c, d); st.State != client.StateQueued {
		t.Fatalf("job %d: state %d, want queued", d, st.State)
	}
	ids := []int64{a, b, cj, d}
	before := snapshot(t, c, ids)

	srv.Kill() // during the power-on of cj, just after the create of d
	srv, c = start()
	after := snapshot(t, c, ids)
	for _, id := range []int64{a, b, d} {
		if after[id] != before[id] {
			t.Errorf("job %d after restart: %+v, before: %+v", id, after[id], before[id])
		}
	}
	if after[cj].Boards != before[cj].Boards {
		t.Errorf("interrupted job %d changed boards: %q -> %q", cj, before[cj].Boards, after[cj].Boards)
	}
	awaitState(t, c, cj, client.StateReady) // the interrupted power-on is redone
	assertNoBoardInTwoJobs(t, c)
	e := createJob(t, c)
	if e <= d {
		t.Fatalf("new job id %d reuses an id at or below %d", e, d)
	}
	ids = append(ids, e)

	reason := "done with it"
	if err := c.DestroyJob(ctxT(t), a, &reason); err != nil {
		t.Fatal(err)
	}
	srv.Kill() // during the power-off of a's boards
	srv, c = start()
	if st := state(t, c, a); st.State != client.StateDestroyed || st.Reason == nil || *st.Reason != reason {
		t.Fatalf("destroyed job %d after restart: %+v", a, st)
	}
	awaitState(t, c, d, client.StateReady) // a's triad was powered off and reused
	assertNoBoardInTwoJobs(t, c)
	before = snapshot(t, c, ids)

	bmp2 := startFakeBMP(t, fakebmp, 0)
	writeFile(t, cfgPath, testutil.FastTOML+testutil.MachineTOML("m", 2, bmpAddr, "10.9.0")+testutil.MachineTOML("m2", 2, bmp2, "10.9.1"))
	srv.Cmd.Process.Signal(syscall.SIGHUP)
	srv.Kill() // during (or just before) the reconfiguration
	srv, c = start()
	machines, err := c.ListMachines(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(machines) != 2 || machines[0].Name != "m" || machines[1].Name != "m2" {
		t.Fatalf("machines after reconfiguration and restart: %+v", machines)
	}
	after = snapshot(t, c, ids)
	for _, id := range ids {
		if after[id] != before[id] {
			t.Errorf("job %d after reconfiguration restart: %+v, before: %+v", id, after[id], before[id])
		}
	}
	f := createJob(t, c, 1, 1)
	awaitState(t, c, f, client.StateReady) // lands on m2
	if f <= e {
		t.Fatalf("new job id %d reuses an id at or below %d", f, e)
	}
	assertNoBoardInTwoJobs(t, c)
	srv.stop(t)
}

// TestReloadFollowsTheConfigFile edits the configuration file of a running
// server and observes the outcomes of docs/configuration.md "What a reload
// changes" through the protocol.
func TestReloadFollowsTheConfigFile(t *testing.T) {
	spallocd, _ := binaries(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "spalloc.toml")
	m0 := func(width int, tags string) string {
		var boards strings.Builder
		for x := 0; x < width; x++ {
			for z := 0; z < 3; z++ {
				fmt.Fprintf(&boards, "  { xyz = [%d, 0, %d], cfb = [0, 0, %d] },\n", x, z, 3*x+z)
			}
		}
		return fmt.Sprintf(`[[machine]]
name = "m0"
tags = %s
width = %d
height = 1
standard_ips = { base_ip = "10.20.0.0" }
fake_bmp = { power_delay = "0s", link_delay = "0s" }
boards = [
%s]
`, tags, width, boards.String())
	}
	m1 := "[[machine]]\nname = \"m1\"\nsingle_board = { bmp_ip = \"10.21.0.0\", spinnaker_ip = \"10.21.0.1\" }\nfake_bmp = { power_delay = \"0s\", link_delay = \"0s\" }\n"
	writeFile(t, cfgPath, m0(2, `["default"]`))
	srv, addr := startServer(t, spallocd, "--config", cfgPath, "--db", filepath.Join(dir, "db.sqlite"))
	c := dial(t, addr)
	job := createJob(t, c, 1, 1)
	awaitState(t, c, job, client.StateReady)

	awaitMachines := func(want string) []client.Machine {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ms, err := c.ListMachines(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, fmt.Sprintf("%s%v%dx%d", m.Name, m.Tags, m.Width, m.Height))
			}
			if strings.Join(got, " ") == want {
				return ms
			}
			if time.Now().After(deadline) {
				t.Fatalf("machines %v, want %s", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	writeFile(t, cfgPath, m0(2, `["default"]`)+m1) // add a machine
	awaitMachines("m0[default]2x1 m1[default]1x1")
	writeFile(t, cfgPath, m0(2, `["default", "big"]`)+m1) // change tags: the job keeps running
	awaitMachines("m0[big default]2x1 m1[default]1x1")
	if st := state(t, c, job); st.State != client.StateReady {
		t.Fatalf("job after a tags change: %+v", st)
	}
	writeFile(t, cfgPath, "[[machine]]\nname = \"m0\"\nwidth = ") // broken: nothing changes
	testutil.Eventually(t, 10*time.Second, "a broken configuration file is reported in the log", func() bool {
		return strings.Contains(srv.Output(), "reload failed")
	})
	awaitMachines("m0[big default]2x1 m1[default]1x1")
	writeFile(t, cfgPath, m0(1, `["default", "big"]`)+m1) // change the size: the job is destroyed
	awaitMachines("m0[big default]1x1 m1[default]1x1")
	st := awaitState(t, c, job, client.StateDestroyed)
	if st.Reason == nil || *st.Reason != "Machine removed." {
		t.Fatalf("job on a resized machine: reason %v, want \"Machine removed.\"", st.Reason)
	}
	srv.stop(t)
}

// TestDemoStartsWithNoArguments runs spallocd as the README says, with no
// configuration: the built-in demo (on free ports, so that a demo already
// running on this machine does not get in the way; TestDemoDefaults checks
// the default ports).
func TestDemoStartsWithNoArguments(t *testing.T) {
	spallocd, _ := binaries(t)
	demo := startDemo(t, spallocd)
	c := dial(t, demo.proto)
	v, err := c.Version(ctxT(t))
	if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Fatalf("version %q, %v", v, err)
	}
	ms, err := c.ListMachines(ctxT(t))
	if err != nil || len(ms) == 0 {
		t.Fatalf("list_machines: %v, %v", ms, err)
	}
	job := createJob(t, c)
	awaitState(t, c, job, client.StateReady)
	demo.stop(t)
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	writeFile(t, good, "[[machine]]\nname = \"sb\"\nsingle_board = { bmp_ip = \"10.0.0.1\", spinnaker_ip = \"10.0.0.2\" }\n")
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "[[machine]]\nname = \"sb\"\nwidth = 2\n")
	var out, errOut strings.Builder
	if code := run([]string{"--check-config", good}, &out, &errOut); code != 0 {
		t.Fatalf("valid file: exit %d, %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "1 machine, 1 working board, 1 BMP\n") ||
		!strings.Contains(out.String(), "1x1 triad, 1 working board, 0 dead boards, 0 dead links, 1 BMP,") {
		t.Errorf("summary: %q", out.String())
	}
	if !strings.Contains(out.String(), "scheduler: policy reserve\npolicy: no limits\nadmin tokens: none") {
		t.Errorf("summary without [policy] or tokens: %q", out.String())
	}

	// The limits that are set and the tokens' names, never a token.
	ruled := filepath.Join(dir, "ruled.toml")
	writeFile(t, ruled, "[scheduler]\npolicy = \"fifo\"\n[policy]\nmax_boards_per_owner = 48\nsick_board_reports = 3\nsick_board_window = \"1h\"\n"+
		"[[admin_token]]\nname = \"alice\"\nfile = \"alice.token\"\n"+
		"[[machine]]\nname = \"sb\"\nsingle_board = { bmp_ip = \"10.0.0.1\", spinnaker_ip = \"10.0.0.2\" }\n")
	const token = "alice-secret-0123456789abcdef0123456789"
	if err := os.WriteFile(filepath.Join(dir, "alice.token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"--check-config", ruled}, &out, &errOut); code != 0 {
		t.Fatalf("file with [policy] and a token: exit %d, %s", code, errOut.String())
	}
	for _, want := range []string{"scheduler: policy fifo\n",
		"policy: max_boards_per_owner 48, a board out of service after 3 problem reports within 1h0m0s (its job keeps it)\n",
		"admin tokens: alice\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q: %q", want, out.String())
		}
	}
	if strings.Contains(out.String(), token) {
		t.Errorf("the summary shows a token: %q", out.String())
	}
	os.Remove(filepath.Join(dir, "alice.token"))
	errOut.Reset()
	if code := run([]string{"--check-config", ruled}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "alice.token") {
		t.Errorf("a token file that is missing: exit %d, %q; want 1 and the file named", code, errOut.String())
	}

	out.Reset()
	if code := run([]string{"--check-config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("invalid file: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "bad.toml") || !strings.Contains(errOut.String(), "sb") {
		t.Errorf("error does not name the file and machine: %q", errOut.String())
	}
}

func TestBadFlagsAreRejected(t *testing.T) {
	for _, args := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}, {"stray"}} {
		var out, errOut strings.Builder
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%v: no error message", args)
		}
	}
}
