package tcpserver_test

import (
	"fmt"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/tcpserver"
)

// BenchmarkPollService: the status-polling workload against the real
// service: N connections, each sending get_job_state for a ready job with
// one request outstanding. Reports req/s and latency percentiles; b.N is
// the total number of requests.
//
//	go test -run '^$' -bench PollService -benchtime 400000x ./tcpserver/
func BenchmarkPollService(b *testing.B) {
	benchService(b, `{"command": "get_job_state", "args": [%d], "kwargs": {}}`)
}

// BenchmarkKeepaliveService is the same with job_keepalive.
func BenchmarkKeepaliveService(b *testing.B) {
	benchService(b, `{"command": "job_keepalive", "args": [%d], "kwargs": {}}`)
}

func benchService(b *testing.B, format string) {
	h := newHarness(b, grid10m, harnessOptions{})
	c := h.dial()
	id, err := c.CreateJob(bg, nil, map[string]any{"owner": "bench", "keepalive": nil})
	if err != nil {
		b.Fatal(err)
	}
	testutil.CompleteAllOps(b, h.svc.Service)
	line := []byte(fmt.Sprintf(format, id) + "\n")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) { tcpserver.PollLoad(b, h.addr, n, line) })
	}
}
