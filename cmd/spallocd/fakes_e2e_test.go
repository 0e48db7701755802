package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/tcpserver/client"
)

// scatteredTOML is a machine of width triads on the standard IP scheme
// whose boards sit in frames of several cabinets, served by in-process
// fake BMPs. Triad 0 is in frame (0, 0); the boards of triads 1 and 2 are
// spread over frames (1, 4), (2, 0) and (0, 3), and most of those frames'
// boards, board 0 among them, belong to no machine. A failed BMP request
// is retried only after a minute, so a job is ready within the tests'
// 30 s only if every fake answers at once.
func scatteredTOML(width int) string {
	cfbs := [][3][3]int{
		{{0, 0, 0}, {0, 0, 1}, {0, 0, 2}},
		{{1, 4, 23}, {2, 0, 21}, {0, 3, 7}},
		{{0, 3, 8}, {1, 4, 22}, {0, 0, 3}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[bmp]\ntimeout = \"500ms\"\nrequest_retry_delay = \"1m\"\n\n")
	fmt.Fprintf(&b, "[[machine]]\nname = \"scattered\"\nwidth = %d\nheight = 1\n", width)
	b.WriteString("standard_ips = { base_ip = \"10.2.0.0\" }\n")
	b.WriteString("fake_bmp = { power_delay = \"10ms\", link_delay = \"1ms\" }\nboards = [\n")
	for x := range width {
		for z, cfb := range cfbs[x] {
			fmt.Fprintf(&b, "  { xyz = [%d, 0, %d], cfb = [%d, %d, %d] },\n", x, z, cfb[0], cfb[1], cfb[2])
		}
	}
	b.WriteString("]\n")
	return b.String()
}

// TestFakeBMPsOfScatteredFrames: each frame's in-process fake answers for
// the boards configured in it, also after a reconfiguration puts more
// boards into frames that already have a fake.
func TestFakeBMPsOfScatteredFrames(t *testing.T) {
	spallocd, _ := binaries(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "spalloc.toml")
	writeFile(t, cfgPath, scatteredTOML(2))
	srv, addr := startServer(t, spallocd, "--config", cfgPath, "--db", filepath.Join(dir, "spalloc.db"))
	c := dial(t, addr)

	job := createJob(t, c, 2, 1)
	awaitState(t, c, job, client.StateReady)
	assertJobBoards(t, c, job, 6)

	// Triad 2 adds boards to frames (0, 0), (0, 3) and (1, 4). The machine
	// changes size, so it is re-created and the first job ends.
	writeFile(t, cfgPath, scatteredTOML(3))
	awaitState(t, c, job, client.StateDestroyed)
	whole := createJob(t, c, 3, 1)
	awaitState(t, c, whole, client.StateReady)
	assertJobBoards(t, c, whole, 9)
	srv.stop(t)
}

func assertJobBoards(t *testing.T, c *client.Client, job int64, want int) {
	t.Helper()
	info, err := c.GetJobMachineInfo(ctxT(t), job)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Boards) != want {
		t.Fatalf("job %d has boards %v, want %d boards", job, info.Boards, want)
	}
}
