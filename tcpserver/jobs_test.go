package tcpserver_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spalloc/spallocd/tcpserver/client"
)

const nullInfo = `{"return":{"width":null,"height":null,"connections":null,"machine_name":null,"boards":null}}`

// JOB-03: commands on queued and unknown jobs do nothing.
func TestCommandsOnQueuedAndUnknownJobs(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	createJob(t, c, []any{1, 2}, map[string]any{})           // takes the whole machine
	queued := createJob(t, c, []any{1, 1}, map[string]any{}) // waits
	for _, cmd := range []string{"power_on_job_boards", "power_off_job_boards"} {
		if got := raw(t, c, fmt.Sprintf(`{"command":%q,"args":[%d]}`, cmd, queued)); got != `{"return":null}` {
			t.Fatalf("%s: %s", cmd, got)
		}
		if st := jobState(t, c, queued); st.State != client.StateQueued || st.Power != nil {
			t.Fatalf("after %s: %+v", cmd, st)
		}
	}
	if got := raw(t, c, fmt.Sprintf(`{"command":"get_job_machine_info","args":[%d]}`, queued)); got != nullInfo {
		t.Fatalf("machine info of a queued job: %s", got)
	}
	for _, cmd := range []string{"power_on_job_boards", "power_off_job_boards", "destroy_job", "job_keepalive"} {
		if got := raw(t, c, fmt.Sprintf(`{"command":%q,"args":[999]}`, cmd)); got != `{"return":null}` {
			t.Fatalf("%s(999): %s", cmd, got)
		}
	}
	if got := raw(t, c, `{"command":"get_job_state","args":[999]}`); got !=
		`{"return":{"state":0,"power":null,"keepalive":null,"reason":null,"start_time":null,"keepalivehost":null}}` {
		t.Fatalf("state of 999: %s", got)
	}
	if got := raw(t, c, `{"command":"get_job_machine_info","args":[999]}`); got != nullInfo {
		t.Fatalf("machine info of 999: %s", got)
	}
}

// JOB-04: destroy reasons as the client sees them.
func TestDestroyReasons(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	withReason := createJob(t, c, nil, map[string]any{})
	without := createJob(t, c, nil, map[string]any{})
	h.completeOps()
	createJob(t, c, []any{1, 2}, map[string]any{}) // queued behind them
	queued := createJob(t, c, []any{1, 2}, map[string]any{})

	// 7.3 clients send the reason positionally, 7.4 as a keyword.
	raw(t, c, fmt.Sprintf(`{"command":"destroy_job","args":[%d,"Because you too."],"kwargs":{}}`, withReason))
	raw(t, c, fmt.Sprintf(`{"command":"destroy_job","args":[%d],"kwargs":{"reason":null}}`, without))
	raw(t, c, fmt.Sprintf(`{"command":"destroy_job","args":[%d],"kwargs":{"reason":"Because."}}`, queued))
	for id, want := range map[int64]string{
		withReason: `"Because you too."`, without: `null`, queued: `"Cancelled: Because."`,
	} {
		got := raw(t, c, fmt.Sprintf(`{"command":"get_job_state","args":[%d]}`, id))
		if exp := `{"return":{"state":4,"power":null,"keepalive":null,"reason":` + want +
			`,"start_time":null,"keepalivehost":null}}`; got != exp {
			t.Errorf("job %d: got %s, want %s", id, got, exp)
		}
		if got := raw(t, c, fmt.Sprintf(`{"command":"get_job_machine_info","args":[%d]}`, id)); got != nullInfo {
			t.Errorf("job %d machine info: %s", id, got)
		}
	}
}

// JOB-05: what keeps a job alive, on the service's fake clock.
func TestKeepalive(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dial()
	step := func(d time.Duration) {
		t.Helper()
		h.svc.Clock.Advance(d)
		must(t, h.svc.Tick(bg))
	}
	alive := func(id int64) bool {
		t.Helper()
		return jobState(t, c, id).State != client.StateDestroyed
	}

	// Polled every 0.15 s for 0.9 s by each job-specific command: alive.
	for _, cmd := range []string{"get_job_state", "get_job_machine_info", "job_keepalive", "power_on_job_boards"} {
		id := createJob(t, c, nil, map[string]any{"keepalive": 0.5})
		for range 6 {
			step(150 * time.Millisecond)
			raw(t, c, fmt.Sprintf(`{"command":%q,"args":[%d]}`, cmd, id))
		}
		step(150 * time.Millisecond)
		if st := jobState(t, c, id); st.State == client.StateDestroyed {
			t.Fatalf("kept alive by %s, yet destroyed: %+v", cmd, st)
		}
		must(t, c.DestroyJob(bg, id, nil))
		h.completeOps()
	}

	// where_is by job counts too (the original's did not; docs/protocol.md).
	id := createJob(t, c, nil, map[string]any{"keepalive": 0.5})
	for range 3 {
		step(300 * time.Millisecond)
		raw(t, c, fmt.Sprintf(`{"command":"where_is","kwargs":{"job_id":%d,"chip_x":0,"chip_y":0}}`, id))
	}
	if !alive(id) {
		t.Fatal("where_is by job did not keep the job alive")
	}

	// Left alone, or touched only by list_jobs and where_is by machine: timed out.
	step(300 * time.Millisecond)
	raw(t, c, `{"command":"list_jobs"}`)
	raw(t, c, `{"command":"where_is","kwargs":{"machine":"m","x":0,"y":0,"z":0}}`)
	step(300 * time.Millisecond)
	if got := raw(t, c, fmt.Sprintf(`{"command":"get_job_state","args":[%d]}`, id)); got !=
		`{"return":{"state":4,"power":null,"keepalive":null,"reason":"Job timed out.","start_time":null,"keepalivehost":null}}` {
		t.Fatalf("left alone: %s", got)
	}
	raw(t, c, fmt.Sprintf(`{"command":"job_keepalive","args":[%d]}`, id))
	if alive(id) {
		t.Fatal("job_keepalive revived a destroyed job")
	}

	// keepalive null never times out; the default is 60 s.
	never := createJob(t, c, nil, map[string]any{"keepalive": nil})
	def := createJob(t, c, []any{1}, map[string]any{})
	if st := jobState(t, c, def); st.Keepalive == nil || *st.Keepalive != 60.0 {
		t.Fatalf("default keepalive: %+v", st)
	}
	step(59 * time.Second)
	if !alive(def) {
		t.Fatal("default keepalive expired before 60 s")
	}
	step(61 * time.Second)
	if alive(def) {
		t.Fatal("default keepalive did not expire after 60 s")
	}
	step(24 * time.Hour)
	if st := jobState(t, c, never); st.State == client.StateDestroyed || st.Keepalive != nil {
		t.Fatalf("keepalive null: %+v", st)
	}
}
