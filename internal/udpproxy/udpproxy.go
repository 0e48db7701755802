// Package udpproxy is a UDP proxy that misbehaves on purpose: it forwards
// datagrams between clients and one target (a BMP, real or fake) and can
// drop, delay, truncate or garble them, in either direction, switchable
// while it runs. Tests put it between spallocd and a fake BMP to play a
// sick network.
//
// It owns its sockets and goroutines only; it knows nothing of the SCP
// protocol it carries. Each client address gets its own socket towards the
// target, so replies return to the client that asked.
package udpproxy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction says which datagrams a Fault applies to.
type Direction int

const (
	Requests Direction = 1 << iota // client to target
	Replies                        // target to client
	Both     = Requests | Replies
)

// Fault is how the proxy mistreats the datagrams of one direction. The
// zero Fault forwards everything unchanged.
type Fault struct {
	Drop     float64       // fraction of datagrams dropped, 0..1
	Delay    time.Duration // added before a datagram is forwarded
	Truncate int           // forward only the first Truncate bytes (0: all)
	Garble   float64       // fraction of datagrams with one byte changed, 0..1
}

// Stats counts datagrams by direction.
type Stats struct {
	Requests, Replies Counts
}

// Counts are the datagrams of one direction.
type Counts struct {
	Received  int64 // arrived at the proxy
	Forwarded int64 // sent on (maybe delayed, truncated or garbled)
	Dropped   int64
}

// Proxy forwards datagrams between clients and one target.
type Proxy struct {
	front  *net.UDPConn
	target *net.UDPAddr

	mu      sync.Mutex
	faults  [2]Fault // [0] requests, [1] replies
	rng     *rand.Rand
	clients map[string]*net.UDPConn // by client address: the socket towards the target
	closed  bool
	timers  map[*time.Timer]struct{} // delayed datagrams not yet sent

	stats [2]struct{ received, forwarded, dropped atomic.Int64 }
	wg    sync.WaitGroup
}

// Start listens on listen (e.g. "127.0.0.1:0") and forwards to target
// ("host:port").
func Start(listen, target string) (*Proxy, error) {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: target %q: %w", target, err)
	}
	laddr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: listen address %q: %w", listen, err)
	}
	front, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: %w", err)
	}
	p := &Proxy{
		front:   front,
		target:  taddr,
		rng:     rand.New(rand.NewPCG(1, 2)), // reproducible runs
		clients: map[string]*net.UDPConn{},
		timers:  map[*time.Timer]struct{}{},
	}
	p.wg.Add(1)
	go p.serveFront()
	return p, nil
}

// Addr is where clients send to.
func (p *Proxy) Addr() string { return p.front.LocalAddr().String() }

// SetFault changes how datagrams of dir are treated from now on.
func (p *Proxy) SetFault(dir Direction, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dir&Requests != 0 {
		p.faults[0] = f
	}
	if dir&Replies != 0 {
		p.faults[1] = f
	}
}

// Heal forwards everything unchanged from now on.
func (p *Proxy) Heal() { p.SetFault(Both, Fault{}) }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	get := func(i int) Counts {
		s := &p.stats[i]
		return Counts{Received: s.received.Load(), Forwarded: s.forwarded.Load(), Dropped: s.dropped.Load()}
	}
	return Stats{Requests: get(0), Replies: get(1)}
}

// Close stops the proxy: its sockets close, delayed datagrams are dropped,
// and its goroutines end before Close returns.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for t := range p.timers {
		t.Stop()
	}
	p.timers = nil
	err := p.front.Close()
	for _, c := range p.clients {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// serveFront reads datagrams from clients and forwards them to the target.
func (p *Proxy) serveFront() {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.front.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable from an earlier send
		}
		back := p.backFor(from)
		if back == nil {
			return
		}
		p.pass(0, buf[:n], func(b []byte) { back.Write(b) })
	}
}

// backFor returns the socket towards the target for client from, opening
// it (and its reader) on first use; nil once closed.
func (p *Proxy) backFor(from *net.UDPAddr) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	key := from.String()
	if c := p.clients[key]; c != nil {
		return c
	}
	c, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil
	}
	p.clients[key] = c
	p.wg.Add(1)
	go p.serveBack(c, from)
	return c
}

// serveBack reads the target's replies for one client and forwards them.
func (p *Proxy) serveBack(c *net.UDPConn, client *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // the target was not listening yet, or is gone for now
		}
		p.pass(1, buf[:n], func(b []byte) { p.front.WriteToUDP(b, client) })
	}
}

// pass applies direction dir's fault to one datagram and sends what is left
// of it with send, now or after the delay.
func (p *Proxy) pass(dir int, datagram []byte, send func([]byte)) {
	st := &p.stats[dir]
	st.received.Add(1)
	p.mu.Lock()
	f := p.faults[dir]
	drop := f.Drop > 0 && p.rng.Float64() < f.Drop
	garble := f.Garble > 0 && p.rng.Float64() < f.Garble
	garbleAt := 0
	if len(datagram) > 0 {
		garbleAt = p.rng.IntN(len(datagram))
	}
	p.mu.Unlock()
	if drop {
		st.dropped.Add(1)
		return
	}
	out := append([]byte(nil), datagram...)
	if f.Truncate > 0 && len(out) > f.Truncate {
		out = out[:f.Truncate]
	}
	if garble && garbleAt < len(out) {
		out[garbleAt] ^= 0xA5
	}
	if f.Delay <= 0 {
		st.forwarded.Add(1)
		send(out)
		return
	}
	p.later(f.Delay, func() {
		st.forwarded.Add(1)
		send(out)
	})
}

// later runs f after d unless the proxy closes first.
func (p *Proxy) later(d time.Duration, f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		p.mu.Lock()
		_, pending := p.timers[t]
		delete(p.timers, t)
		p.mu.Unlock()
		if pending {
			f()
		}
	})
	p.timers[t] = struct{}{}
}
