package udpproxy

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echo is a UDP target that answers every datagram with the same bytes.
func echo(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
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
	raddr, _ := net.ResolveUDPAddr("udp", p.Addr())
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and returns the reply, or nil if none comes within wait.
func roundTrip(t *testing.T, c *net.UDPConn, msg []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil // no answer (refused: nobody listens there any more)
		}
		t.Fatal(err)
	}
	return buf[:n]
}

func TestForwardsUnchangedByDefault(t *testing.T) {
	p := start(t)
	a, b := dial(t, p), dial(t, p)
	if got := roundTrip(t, a, []byte("from a"), 5*time.Second); string(got) != "from a" {
		t.Fatalf("client a got %q", got)
	}
	if got := roundTrip(t, b, []byte("from b"), 5*time.Second); string(got) != "from b" {
		t.Fatalf("client b got %q (replies must return to the client that asked)", got)
	}
	st := p.Stats()
	if st.Requests.Forwarded != 2 || st.Replies.Forwarded != 2 || st.Requests.Dropped+st.Replies.Dropped != 0 {
		t.Fatalf("stats %+v, want 2 forwarded each way, none dropped", st)
	}
}

func TestFaultsSwitchAtRunTime(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	msg := []byte("0123456789")

	p.SetFault(Requests, Fault{Drop: 1})
	if got := roundTrip(t, c, msg, 200*time.Millisecond); got != nil {
		t.Fatalf("dropped request answered: %q", got)
	}
	p.SetFault(Both, Fault{})
	p.SetFault(Replies, Fault{Truncate: 4})
	if got := roundTrip(t, c, msg, 5*time.Second); string(got) != "0123" {
		t.Fatalf("truncated reply %q, want %q", got, "0123")
	}
	p.SetFault(Replies, Fault{Garble: 1})
	got := roundTrip(t, c, msg, 5*time.Second)
	if len(got) != len(msg) || bytes.Equal(got, msg) {
		t.Fatalf("garbled reply %q: want the same length with one byte changed", got)
	}
	p.SetFault(Replies, Fault{Delay: 300 * time.Millisecond})
	if got := roundTrip(t, c, msg, 50*time.Millisecond); got != nil {
		t.Fatalf("delayed reply arrived at once: %q", got)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != string(msg) {
		t.Fatalf("delayed reply: %q, %v", buf[:n], err)
	}
	p.Heal()
	if got := roundTrip(t, c, msg, 5*time.Second); string(got) != string(msg) {
		t.Fatalf("after Heal got %q", got)
	}
	st := p.Stats()
	if st.Requests.Dropped != 1 || st.Requests.Received != 5 {
		t.Fatalf("stats %+v: want 5 requests received, 1 dropped", st)
	}
}

func TestDropFractionIsAFraction(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	p.SetFault(Requests, Fault{Drop: 0.3})
	for i := range int64(400) {
		c.Write([]byte("x"))
		for p.Stats().Requests.Received <= i { // one at a time: a burst overflows the socket buffer
			time.Sleep(50 * time.Microsecond)
		}
	}
	st := p.Stats().Requests
	if st.Received != 400 || st.Dropped < 80 || st.Dropped > 160 {
		t.Fatalf("requests %+v: want about 120 of 400 dropped", st)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	p := start(t)
	c := dial(t, p)
	p.SetFault(Replies, Fault{Delay: time.Hour})
	roundTrip(t, c, []byte("x"), 50*time.Millisecond)
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return (a goroutine or timer outlived it)")
	}
	if got := roundTrip(t, c, []byte("y"), 100*time.Millisecond); got != nil {
		t.Fatalf("closed proxy answered %q", got)
	}
}
