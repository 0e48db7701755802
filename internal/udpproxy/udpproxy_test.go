package udpproxy

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a UDP target that answers every datagram with its bytes.
func echo(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
	return c.LocalAddr().String()
}

func start(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start("127.0.0.1:0", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.UDPConn {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and returns the answer, or nil if none comes within
// wait.
func roundTrip(t *testing.T, c *net.UDPConn, msg []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

var msg = []byte("0123456789abcdef")

func TestForwardsUnchanged(t *testing.T) {
	p := start(t)
	a, b := dial(t, p), dial(t, p)
	for _, c := range []*net.UDPConn{a, b, a} {
		if got := roundTrip(t, c, msg, 5*time.Second); !bytes.Equal(got, msg) {
			t.Fatalf("got %q, want %q", got, msg)
		}
	}
	st := p.Stats()
	want := Counts{Received: 3, Forwarded: 3}
	if st.Requests != want || st.Replies != want {
		t.Errorf("stats %+v", st)
	}
}

// Faults switch at run time, per direction, and Heal undoes them.
func TestFaults(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	tests := []struct {
		name  string
		dir   Direction
		fault Fault
		check func(t *testing.T, got []byte)
	}{
		{"drop requests", Requests, Fault{Drop: 1}, func(t *testing.T, got []byte) {
			if got != nil {
				t.Errorf("got %q through", got)
			}
		}},
		{"drop replies", Replies, Fault{Drop: 1}, func(t *testing.T, got []byte) {
			if got != nil {
				t.Errorf("got %q through", got)
			}
		}},
		{"truncate replies to 5 bytes", Replies, Fault{Truncate: 5}, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, msg[:5]) {
				t.Errorf("got %q, want %q", got, msg[:5])
			}
		}},
		{"truncate both ways: the shorter wins", Both, Fault{Truncate: 7}, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, msg[:7]) {
				t.Errorf("got %q, want %q", got, msg[:7])
			}
		}},
		{"garble replies", Replies, Fault{Garble: 1}, func(t *testing.T, got []byte) {
			if len(got) != len(msg) {
				t.Fatalf("got %d bytes, want %d", len(got), len(msg))
			}
			diff := 0
			for i := range got {
				if got[i] != msg[i] {
					diff++
				}
			}
			if diff != 1 {
				t.Errorf("%d bytes changed, want 1: %q", diff, got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.SetFault(tc.dir, tc.fault); err != nil {
				t.Fatal(err)
			}
			tc.check(t, roundTrip(t, c, msg, 200*time.Millisecond))
			p.Heal()
			if got := roundTrip(t, c, msg, 5*time.Second); !bytes.Equal(got, msg) {
				t.Errorf("after Heal: got %q", got)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	const d = 150 * time.Millisecond
	if err := p.SetFault(Replies, Fault{Delay: d}); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if got := roundTrip(t, c, msg, 5*time.Second); !bytes.Equal(got, msg) {
		t.Fatalf("got %q", got)
	}
	if took := time.Since(sent); took < d {
		t.Errorf("answer after %v, want at least %v", took, d)
	}
}

// A fraction of datagrams is dropped; the seed is fixed, so the count is
// the same on every run, and close to the fraction.
func TestDropFraction(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	if err := p.SetFault(Requests, Fault{Drop: 0.3}); err != nil {
		t.Fatal(err)
	}
	const n = 400
	deadline := time.Now().Add(10 * time.Second)
	for i := range int64(n) {
		// One at a time, so that no socket buffer overflows.
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		for p.Stats().Requests.Received <= i && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	st := p.Stats().Requests
	if st.Received != n || st.Dropped+st.Forwarded != n {
		t.Fatalf("stats %+v for %d datagrams", st, n)
	}
	if st.Dropped < n/5 || st.Dropped > n*2/5 {
		t.Errorf("%d of %d dropped at 30%%", st.Dropped, n)
	}
}

func TestBadFaults(t *testing.T) {
	p := start(t)
	for _, f := range []Fault{{Drop: -0.1}, {Drop: 1.5}, {Garble: 2}, {Delay: -time.Second}, {Truncate: -1}} {
		if err := p.SetFault(Both, f); err == nil {
			t.Errorf("SetFault(%+v) accepted", f)
		}
	}
	if err := p.SetFault(0, Fault{}); err == nil {
		t.Error("direction 0 accepted")
	}
	if _, err := Start("127.0.0.1:0", "no such host:x"); err == nil {
		t.Error("a bad target was accepted")
	}
}

// Close drops delayed datagrams and ends every goroutine (TestMain checks).
func TestCloseWithDelayedDatagrams(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	if err := p.SetFault(Replies, Fault{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, c, msg, 100*time.Millisecond); got != nil {
		t.Fatalf("got %q before the delay", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
