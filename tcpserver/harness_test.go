package tcpserver_test

// The integration harness: a real service on a temporary SQLite file, the
// v1 server on a loopback port, and optionally the BMP workers with fake
// BMPs.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/tcpserver"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// harness is a running service and server.
type harness struct {
	t    testing.TB
	svc  *testutil.Service
	srv  *tcpserver.Server
	addr string
}

type harnessOptions struct {
	// bmps runs the real BMP workers against fake BMPs that answer a
	// power-on or power-off after powerDelay and an FPGA write after
	// linkDelay, like the scenario's. Without it the test completes operations itself
	// (testutil.CompleteAllOps), which holds jobs in state power for as
	// long as it wants.
	bmps                  bool
	powerDelay, linkDelay time.Duration
	// realClock runs the service on the wall clock with its timed work
	// every 50 ms; otherwise the clock is a testutil.FakeClock that the
	// test moves (and calls Tick).
	realClock bool
	server    tcpserver.Options
	svcOpts   []testutil.Option
}

func newHarness(t testing.TB, toml string, o harnessOptions) *harness {
	t.Helper()
	// The service's and the server's logs, shown if the test fails.
	logs := &testutil.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	})
	opts := []testutil.Option{testutil.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}
	if o.realClock {
		opts = append(opts, testutil.WithRealClock(),
			testutil.WithOptions(func(so *service.Options) { so.TickInterval = 50 * time.Millisecond }))
	}
	svc := testutil.NewService(t, toml, append(opts, o.svcOpts...)...)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if o.realClock {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = svc.Run(ctx)
		}()
	}
	if o.bmps {
		testutil.StartBMPs(t, svc, testutil.BMPOptions{PowerDelay: o.powerDelay, PowerOffDelay: o.powerDelay,
			LinkDelay: o.linkDelay})
	}

	if o.server.Logger == nil {
		o.server.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	srv := tcpserver.New(svc.Service, o.server)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, tcpserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		cancel()
		wg.Wait()
	})
	return &harness{t: t, svc: svc, srv: srv, addr: ln.Addr().String()}
}

// dial opens a client closed at the end of the test.
func (h *harness) dial() *client.Client {
	h.t.Helper()
	c, err := client.Dial(context.Background(), h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// completeOps plays the BMPs once: every pending operation succeeds.
func (h *harness) completeOps() int {
	h.t.Helper()
	return testutil.CompleteAllOps(h.t, h.svc.Service)
}
