// Package udpproxy is a UDP proxy that misbehaves on purpose, for tests: it
// forwards datagrams between its clients and one target (a BMP, real or
// fake) and can drop, delay, truncate or garble them, in either direction,
// switchable while it runs. Tests put it between the BMP workers (or a
// whole spallocd) and a fake BMP to play a sick network.
//
// It owns its sockets and goroutines and nothing else; it knows nothing of
// the SCP protocol it carries. Each client address gets its own socket
// towards the target, so that replies return to the client that asked.
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

// MaxClients bounds the client addresses a proxy serves at once (each has a
// socket towards the target until Close). Datagrams from further clients
// are dropped and counted.
const MaxClients = 256

// Direction says which datagrams a Fault applies to.
type Direction int

// Directions.
const (
	Requests Direction = 1 << iota // client to target
	Replies                        // target to client
	Both     = Requests | Replies
)

// Fault is how the proxy mistreats the datagrams of one direction. The
// zero Fault forwards everything unchanged. The random choices come from
// a fixed seed, so that a test run is repeatable in what it damages.
type Fault struct {
	Drop     float64       // fraction of datagrams dropped, 0..1
	Delay    time.Duration // added before each datagram is forwarded
	Truncate int           // forward only the first Truncate bytes (0: all)
	Garble   float64       // fraction of datagrams with one byte, at a random offset, changed; 0..1
}

func (f Fault) validate() error {
	switch {
	case f.Drop < 0 || f.Drop > 1 || f.Drop != f.Drop:
		return fmt.Errorf("udpproxy: Drop %v out of range 0..1", f.Drop)
	case f.Garble < 0 || f.Garble > 1 || f.Garble != f.Garble:
		return fmt.Errorf("udpproxy: Garble %v out of range 0..1", f.Garble)
	case f.Delay < 0:
		return fmt.Errorf("udpproxy: Delay %v is negative", f.Delay)
	case f.Truncate < 0:
		return fmt.Errorf("udpproxy: Truncate %d is negative", f.Truncate)
	}
	return nil
}

// Counts are the datagrams of one direction since Start.
type Counts struct {
	Received  int64 // arrived at the proxy
	Forwarded int64 // sent on (maybe delayed, truncated or garbled)
	Dropped   int64 // dropped by a Fault, or from a client over MaxClients
}

// Stats counts datagrams by direction.
type Stats struct {
	Requests, Replies Counts
}

type counters struct{ received, forwarded, dropped atomic.Int64 }

// Proxy forwards datagrams between clients and one target.
type Proxy struct {
	front  *net.UDPConn
	target *net.UDPAddr

	mu      sync.Mutex
	faults  [2]Fault // by direction index: 0 requests, 1 replies
	rng     *rand.Rand
	clients map[string]*net.UDPConn // client address -> socket towards the target
	delayed map[*time.Timer]struct{}
	closed  bool

	stats [2]counters
	wg    sync.WaitGroup // the reader goroutines and the delayed datagrams
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
		rng:     rand.New(rand.NewPCG(1, 2)),
		clients: map[string]*net.UDPConn{},
		delayed: map[*time.Timer]struct{}{},
	}
	p.wg.Add(1)
	go p.serveFront()
	return p, nil
}

// Addr is the address clients send to.
func (p *Proxy) Addr() string { return p.front.LocalAddr().String() }

// SetFault changes how the datagrams of dir are treated from now on
// (datagrams already delayed keep their fate).
func (p *Proxy) SetFault(dir Direction, f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	if dir&Both == 0 || dir&^Both != 0 {
		return fmt.Errorf("udpproxy: direction %d is not Requests, Replies or Both", dir)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if dir&Requests != 0 {
		p.faults[0] = f
	}
	if dir&Replies != 0 {
		p.faults[1] = f
	}
	return nil
}

// Heal forwards everything unchanged from now on.
func (p *Proxy) Heal() { _ = p.SetFault(Both, Fault{}) }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	get := func(c *counters) Counts {
		return Counts{Received: c.received.Load(), Forwarded: c.forwarded.Load(), Dropped: c.dropped.Load()}
	}
	return Stats{Requests: get(&p.stats[0]), Replies: get(&p.stats[1])}
}

// Close stops the proxy: its sockets close, delayed datagrams are dropped,
// and its goroutines end before Close returns. It is safe to call twice.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for t := range p.delayed {
		if t.Stop() {
			p.wg.Done() // its callback will not run
		}
	}
	p.delayed = nil
	err := p.front.Close()
	for _, c := range p.clients {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// serveFront forwards the clients' datagrams to the target.
func (p *Proxy) serveFront() {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.front.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // an ICMP error from an earlier send
		}
		back := p.socketFor(from)
		if back == nil {
			p.stats[0].received.Add(1)
			p.stats[0].dropped.Add(1)
			continue
		}
		p.pass(0, buf[:n], func(b []byte) { back.Write(b) })
	}
}

// socketFor returns the socket towards the target for a client, opening it
// and its reader on first use; nil when closed or over MaxClients.
func (p *Proxy) socketFor(client *net.UDPAddr) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := client.String()
	if c := p.clients[key]; c != nil || p.closed || len(p.clients) >= MaxClients {
		return c
	}
	c, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil
	}
	p.clients[key] = c
	p.wg.Add(1)
	go p.serveBack(c, client)
	return c
}

// serveBack forwards the target's replies to one client.
func (p *Proxy) serveBack(c *net.UDPConn, client *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // nobody listens at the target (yet)
		}
		p.pass(1, buf[:n], func(b []byte) { p.front.WriteToUDP(b, client) })
	}
}

// pass applies direction dir's fault to one datagram and sends what is
// left of it, now or after the delay.
func (p *Proxy) pass(dir int, datagram []byte, send func([]byte)) {
	st := &p.stats[dir]
	st.received.Add(1)
	p.mu.Lock()
	f := p.faults[dir]
	drop := f.Drop > 0 && p.rng.Float64() < f.Drop
	garble := f.Garble > 0 && p.rng.Float64() < f.Garble
	at, flip := p.rng.Int(), byte(1+p.rng.IntN(255))
	p.mu.Unlock()
	if drop {
		st.dropped.Add(1)
		return
	}
	out := append([]byte(nil), datagram...)
	if f.Truncate > 0 && len(out) > f.Truncate {
		out = out[:f.Truncate]
	}
	if garble && len(out) > 0 {
		out[at%len(out)] ^= flip
	}
	forward := func() {
		st.forwarded.Add(1)
		send(out)
	}
	if f.Delay <= 0 {
		forward()
		return
	}
	p.after(f.Delay, forward)
}

// after runs f after d unless the proxy closes first.
func (p *Proxy) after(d time.Duration, f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer p.wg.Done()
		p.mu.Lock()
		_, due := p.delayed[t]
		delete(p.delayed, t)
		p.mu.Unlock()
		if due {
			f()
		}
	})
	p.delayed[t] = struct{}{}
}
