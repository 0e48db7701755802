package bmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/config"
)

// Policy is the time-out and retry budget of one kind of operation.
type Policy struct {
	// Timeout is how long to wait for a reply after each send.
	Timeout time.Duration
	// Retries is how many times to resend after the first send, on a
	// time-out or a retryable result code (scp.Result.Retryable).
	Retries int
}

// DefaultRetryDelay is waited before resending after a retryable result code.
const DefaultRetryDelay = 100 * time.Millisecond

// Options configures a Client. Every Policy needs a positive Timeout: the
// [bmp] settings of the configuration give them (OptionsFrom); the other
// zero fields take the defaults they name.
type Options struct {
	Default  Policy // sver, FPGA read and FPGA write: timeout, retries
	PowerOn  Policy // power on: power_on_timeout, power_on_retries
	PowerOff Policy // power off: power_off_timeout, power_off_retries
	// RetryDelay is waited before resending after a retryable result
	// code (default DefaultRetryDelay).
	RetryDelay time.Duration
	// MaxInFlight bounds the requests outstanding at once (default 1: a
	// BMP has only 8 transient reply tags, and its main loop is serial).
	// Further callers wait their turn.
	MaxInFlight int
	// OnIgnored, if set, is told about every datagram the client ignores
	// (unknown or stale sequence number, duplicate, too short). It runs on
	// the reader goroutine and must not block.
	OnIgnored func(datagram []byte, reason string)
}

// OptionsFrom returns the client options of the [bmp] settings s.
func OptionsFrom(s config.BMPSettings) Options {
	return Options{
		Default:  Policy{Timeout: s.Timeout, Retries: s.Retries},
		PowerOn:  Policy{Timeout: s.PowerOnTimeout, Retries: s.PowerOnRetries},
		PowerOff: Policy{Timeout: s.PowerOffTimeout, Retries: s.PowerOffRetries},
	}
}

func (o Options) withDefaults() (Options, error) {
	for _, p := range []struct {
		name string
		pol  Policy
	}{{"Default", o.Default}, {"PowerOn", o.PowerOn}, {"PowerOff", o.PowerOff}} {
		if p.pol.Timeout <= 0 || p.pol.Retries < 0 {
			return o, fmt.Errorf("bmp: option %s: timeout %v must be positive and retries %d not negative", p.name, p.pol.Timeout, p.pol.Retries)
		}
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.RetryDelay < 0 {
		return o, fmt.Errorf("bmp: option RetryDelay %v must not be negative", o.RetryDelay)
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1
	}
	if o.MaxInFlight < 0 || o.MaxInFlight > 1024 {
		return o, fmt.Errorf("bmp: option MaxInFlight %d out of range 1..1024", o.MaxInFlight)
	}
	return o, nil
}

// Stats counts a client's traffic since Dial.
type Stats struct {
	Sent    uint64 // datagrams sent, retransmissions included
	Resent  uint64 // retransmissions
	Replies uint64 // replies matched to an outstanding request
	Ignored uint64 // datagrams ignored (see Options.OnIgnored)
}

// Client talks to one BMP through one connected UDP socket. Requests from
// several goroutines are matched to replies by sequence number. A reader
// goroutine runs until Close.
type Client struct {
	addr string
	conn *net.UDPConn
	opts Options
	sem  chan struct{} // one token per request in flight

	mu      sync.Mutex
	nextSeq uint16
	pending map[uint16]*waiter

	closing   chan struct{} // closed by Close
	readDone  chan struct{} // closed when the reader exits
	closeOnce sync.Once

	sent, resent, replies, ignored atomic.Uint64
}

// Dial opens a client for the BMP at address, "host" or "host:port" (port
// default 17893). No datagram is sent: an unreachable BMP shows up as
// time-outs of the first operation, never as a Dial error.
func Dial(ctx context.Context, address string, opts Options) (*Client, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	hostport, err := withDefaultPort(address)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", hostport)
	if err != nil {
		return nil, fmt.Errorf("bmp %s: %w", hostport, err)
	}
	c := &Client{
		addr:     hostport,
		conn:     conn.(*net.UDPConn),
		opts:     opts,
		sem:      make(chan struct{}, opts.MaxInFlight),
		pending:  make(map[uint16]*waiter),
		closing:  make(chan struct{}),
		readDone: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// withDefaultPort checks address and adds the SCP port if it has none.
func withDefaultPort(address string) (string, error) {
	if address == "" {
		return "", errors.New("bmp: empty BMP address")
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		// No port (or an IPv6 literal without one): the whole is the host.
		host, port = strings.TrimSuffix(strings.TrimPrefix(address, "["), "]"), strconv.Itoa(scp.Port)
	}
	n, perr := strconv.Atoi(port)
	if host == "" || perr != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bmp: BMP address %q: want host or host:port with port 1..65535", address)
	}
	return net.JoinHostPort(host, port), nil
}

// Addr is the BMP's address as host:port.
func (c *Client) Addr() string { return c.addr }

// Stats returns the traffic counters.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Resent: c.resent.Load(), Replies: c.replies.Load(), Ignored: c.ignored.Load()}
}

// Close stops the reader goroutine and fails operations in progress with
// ErrClosed. It waits for the goroutine to end and is safe to call twice.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		err = c.conn.Close()
		<-c.readDone
	})
	return err
}

func (c *Client) readLoop() {
	defer close(c.readDone)
	buf := make([]byte, 1024) // > largest BMP reply (282 bytes)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A connected UDP socket reports ICMP errors (port
			// unreachable) here; the operation's time-out handles them.
			continue
		}
		c.deliver(buf[:n])
	}
}

// waiter is an outstanding request's slot for its reply.
type waiter struct {
	cmd      scp.Command    // the request's command, to check its replies
	ch       chan scp.Reply // capacity 1
	answered bool           // a reply was handed over since the last (re)send decision
	damaged  int            // replies with its sequence number that could not be read
}

// deliver hands a reply to the operation waiting for its sequence number.
// Only the first usable reply per wait is handed over; copies, and replies
// that cannot be read, are ignored.
func (c *Client) deliver(b []byte) {
	rep, err := scp.DecodeReply(b)
	if err != nil {
		c.ignore(b, err.Error())
		return
	}
	c.mu.Lock()
	w := c.pending[rep.Seq]
	var bad error
	if w != nil && !w.answered {
		bad = unusable(w.cmd, rep)
	}
	fresh := w != nil && !w.answered && bad == nil
	switch {
	case fresh:
		w.answered = true
		c.replies.Add(1) // before the hand-over, so Stats is current when the caller returns
		w.ch <- rep      // cannot block: one reply per wait, capacity 1
	case bad != nil:
		w.damaged++
	}
	c.mu.Unlock()
	switch {
	case w == nil:
		c.ignore(b, fmt.Sprintf("no request outstanding with sequence %d", rep.Seq))
	case bad != nil:
		c.ignore(b, fmt.Sprintf("unreadable reply for sequence %d: %v", rep.Seq, bad))
	case !fresh:
		c.ignore(b, fmt.Sprintf("duplicate reply for sequence %d", rep.Seq))
	}
}

// unusable says why a reply carrying a request's sequence number cannot be
// the BMP's answer to a request of command cmd, or returns nil. A real BMP
// answers only with the result codes package scp knows, and an RC_OK reply
// carries what its command returns; anything else was damaged on the way
// (cut short, garbled) and counts as no reply, so that a sick link is never
// taken for an answer about a board.
func unusable(cmd scp.Command, rep scp.Reply) error {
	if !rep.RC.Known() {
		return fmt.Errorf("unknown result code %#04x", uint16(rep.RC))
	}
	if !rep.RC.OK() {
		return nil // error replies carry nothing to check
	}
	var err error
	switch cmd {
	case scp.CmdVersion:
		_, err = scp.ParseVersion(rep.Payload)
	case scp.CmdFPGARead:
		_, err = scp.ParseFPGARead(rep.Payload)
	}
	return err
}

func (c *Client) ignore(b []byte, reason string) {
	c.ignored.Add(1)
	if c.opts.OnIgnored != nil {
		c.opts.OnIgnored(append([]byte(nil), b...), reason)
	}
}

// register takes the next free sequence number (skipping any still
// outstanding) and a channel for its reply.
func (c *Client) register(cmd scp.Command) (uint16, <-chan scp.Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		seq := c.nextSeq
		c.nextSeq++
		if _, busy := c.pending[seq]; !busy {
			w := &waiter{cmd: cmd, ch: make(chan scp.Reply, 1)}
			c.pending[seq] = w
			return seq, w.ch
		}
	}
}

// rearm accepts one more reply for seq: the request is being resent after a
// retryable result code, so the BMP will answer again.
func (c *Client) rearm(seq uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.pending[seq]; w != nil {
		w.answered = false
	}
}

// unregister forgets seq and returns how many of its replies were damaged.
func (c *Client) unregister(seq uint16) (damaged int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.pending[seq]; w != nil {
		damaged = w.damaged
	}
	delete(c.pending, seq)
	return damaged
}

// do sends req and waits for an RC_OK reply under policy pol. Retransmits
// resend the identical datagram (same sequence number), after a time-out
// or after RetryDelay following a retryable result code. An RC_OK reply's
// payload has been checked against the command (see unusable).
func (c *Client) do(ctx context.Context, op string, req scp.Request, pol Policy) (rep scp.Reply, err error) {
	if err := c.acquire(ctx, op); err != nil {
		return scp.Reply{}, err
	}
	defer func() { <-c.sem }()
	seq, ch := c.register(req.Cmd)
	defer func() {
		damaged := c.unregister(seq)
		if te, ok := err.(*TimeoutError); ok {
			te.Damaged = damaged
		}
	}()
	req.Seq = seq
	b, err := req.Encode()
	if err != nil {
		return scp.Reply{}, fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	var sendErr error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.resent.Add(1)
		}
		c.sent.Add(1)
		if _, err := c.conn.Write(b); err != nil {
			sendErr = err // e.g. ICMP refused; the time-out decides
		}
		got, err := c.await(ctx, op, ch, pol.Timeout)
		switch {
		case err != nil:
			return scp.Reply{}, err
		case got == nil && attempt > pol.Retries:
			return scp.Reply{}, &TimeoutError{BMP: c.addr, Op: op, Attempts: attempt, PerAttempt: pol.Timeout, Err: sendErr}
		case got == nil:
			continue
		case got.RC.OK():
			return *got, nil
		case !got.RC.Retryable() || attempt > pol.Retries:
			return scp.Reply{}, &ResultError{BMP: c.addr, Op: op, Board: req.Board, Code: got.RC, Attempts: attempt}
		}
		if err := c.pause(ctx, op, c.opts.RetryDelay); err != nil {
			return scp.Reply{}, err
		}
		c.rearm(seq)
	}
}

func (c *Client) acquire(ctx context.Context, op string) error {
	// Checked first: select picks among ready cases at random.
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bmp %s: %s: %w", c.addr, op, err)
	}
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-c.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("bmp %s: %s: %w", c.addr, op, ctx.Err())
	}
}

// await waits one attempt's time-out for a reply; nil means it timed out.
func (c *Client) await(ctx context.Context, op string, ch <-chan scp.Reply, timeout time.Duration) (*scp.Reply, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rep := <-ch:
		return &rep, nil
	case <-t.C:
		return nil, nil
	case <-c.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("bmp %s: %s: %w", c.addr, op, ctx.Err())
	}
}

// pause waits d unless ctx ends or the client closes first.
func (c *Client) pause(ctx context.Context, op string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("bmp %s: %s: %w", c.addr, op, ctx.Err())
	}
}
