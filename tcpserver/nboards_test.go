package tcpserver_test

import (
	"os"
	"path/filepath"
	"testing"
)

// Issue 17.1: on the acceptance scenario's 4x2-triad machine (dead boards
// (1,0,1) and (3,1,2)), create_job(n) on a fresh server gets at least n
// boards. The original's placement gave create_job(7) a 5-board block that
// the dead board (1,0,1) cuts short.
func TestCreateJobNGetsNBoards(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(transcripts, "scenario.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 7, 9, 13, 22} {
		h := newHarness(t, string(scenario), harnessOptions{})
		c := h.dial()
		id, err := c.CreateJob(bg, []any{n}, map[string]any{"owner": "a", "machine": "spinn-4x2"})
		if err != nil {
			t.Fatalf("create_job(%d): %v", n, err)
		}
		info, err := c.GetJobMachineInfo(bg, id)
		if err != nil {
			t.Fatalf("get_job_machine_info: %v", err)
		}
		if len(info.Boards) < n {
			t.Errorf("create_job(%d) got %d boards: %v", n, len(info.Boards), info.Boards)
		}
	}
}
