package tcpserver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// One reply larger than MaxOutBuffer, to a client that does not read it,
// disconnects the client: the limit counts every byte not yet written.
func TestOneLargeUnreadReplyDisconnects(t *testing.T) {
	ts := startFake(t, longJobList(), nil, Options{MaxOutBuffer: 64 << 10, WriteTimeout: time.Minute}, smallWriteBuffer)
	c := dialRaw(t, ts.addr)
	_ = c.nc.(*net.TCPConn).SetReadBuffer(4096)
	c.write(`{"command":"list_jobs"}` + "\n") // a reply of ~150 KB
	testutil.WaitFor(t, func() bool { return strings.Contains(ts.logs.String(), "does not read its replies") })
	c.eof()
	wantServing(t, ts.addr)
}

// Connections over MaxConnections, or over MaxConnectionsPerAddress from one
// address, are told why and closed at once; the others are served, a slot
// that frees is used again, and the refusals are logged once, not once each.
func TestConnectionLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"in all", Options{MaxConnections: 3}, "the server is serving its maximum of 3 connections; try again later"},
		{"per address", Options{MaxConnections: 10, MaxConnectionsPerAddress: 3},
			"127.0.0.1 already has the maximum of 3 connections to this server; close some first"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := startFake(t, &fakeBackend{}, nil, c.opts, nil)
			var served []*rawConn
			for range 3 {
				rc := dialRaw(t, ts.addr)
				rc.write(`{"command":"version"}` + "\n")
				if got := rc.line(); got != `{"return":"1.0.0"}` {
					t.Fatalf("connection within the limit: %s", got)
				}
				served = append(served, rc)
			}
			for range 5 {
				over := dialRaw(t, ts.addr)
				over.write(`{"command":"version"}` + "\n")
				if got := over.line(); got != `{"exception":"`+c.want+`"}` {
					t.Fatalf("over the limit: %s", got)
				}
				over.eof()
			}
			if n := strings.Count(ts.logs.String(), "connection refused: over the connection limit"); n != 1 {
				t.Errorf("%d log lines for 5 refusals, want 1:\n%s", n, ts.logs.String())
			}
			served[0].nc.Close()
			testutil.WaitFor(t, func() bool {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				return len(ts.conns) == 2
			})
			wantServing(t, ts.addr)
		})
	}
}

// longJobList is a backend whose list_jobs reply is about 150 KB.
func longJobList() *fakeBackend {
	f := &fakeBackend{}
	for i := range 2000 {
		f.jobs = append(f.jobs, service.JobSummary{ID: int64(i), Owner: "someone@example.org",
			Boards: []geometry.Board{{X: 1, Y: 2, Z: 0}}})
	}
	return f
}

// smallWriteBuffer makes the server's socket take little at once.
func smallWriteBuffer(nc net.Conn) { _ = nc.(*net.TCPConn).SetWriteBuffer(4096) }

// blockingLists is a backend whose ListJobs waits for release.
type blockingLists struct {
	*fakeBackend
	entered chan struct{}
	release chan struct{}
}

func (b blockingLists) ListJobs(ctx context.Context) ([]service.JobSummary, error) {
	b.entered <- struct{}{}
	<-b.release
	return nil, nil
}

// At most cap(heavy) list_jobs replies are made at once; the others wait
// for a slot without taking a processor from cheap requests, which go on.
func TestCostlyRepliesTakeTurns(t *testing.T) {
	b := blockingLists{fakeBackend: &fakeBackend{}, entered: make(chan struct{}, 100), release: make(chan struct{})}
	ts := startFake(t, b, nil, Options{}, nil)
	slots := cap(ts.heavy)
	var lists []*rawConn
	for range slots + 2 {
		c := dialRaw(t, ts.addr)
		c.write(`{"command":"list_jobs"}` + "\n")
		lists = append(lists, c)
	}
	for range slots {
		<-b.entered
	}
	wantServing(t, ts.addr)
	select {
	case <-b.entered:
		t.Fatalf("more than %d list_jobs ran at once", slots)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	for _, c := range lists {
		if got := c.line(); got != `{"return":[]}` {
			t.Fatalf("list_jobs: %s", got)
		}
	}
}
