// Package client is a Go client of the v1 spalloc protocol (JSON lines over
// TCP, docs/protocol.md), for tests, the load tool and command-line tools.
//
// A Client is safe for concurrent use: calls may be pipelined from many
// goroutines and each reply is matched to its request by order.
// Notifications (jobs_changed, machines_changed) arrive on a channel.
//
// It owns nothing on the server side and imports no other package of this
// module, so it can be used against any v1 server.
package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
)

// DefaultPort is the v1 protocol's port.
const DefaultPort = 22244

// ErrClosed is returned by calls on a closed or broken connection.
var ErrClosed = errors.New("spalloc client: connection closed")

// ServerError is an {"exception": ...} reply.
type ServerError struct {
	Command string
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("spalloc server: %s: %s", e.Command, e.Message)
}

// Notification is one notification line: exactly one of the lists is set.
type Notification struct {
	JobsChanged     []int64
	MachinesChanged []string
}

// Client is one connection to a v1 server.
type Client struct {
	nc net.Conn

	wmu sync.Mutex // serializes writing a request and queueing its waiter

	mu      sync.Mutex
	pending []chan result // waiters in request order
	err     error         // why the connection ended; nil while it works

	notesMu   sync.Mutex
	notesQ    []Notification
	notesWake chan struct{}
	notes     chan Notification

	done       chan struct{} // closed when the reader has stopped
	pumpDone   chan struct{}
	closeOnce  sync.Once
	maxLineLen int
}

type result struct {
	line []byte // the whole reply line
	err  error
}

// Dial connects to addr ("host:port").
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return New(nc), nil
}

// New runs a client over an established connection, which it then owns.
func New(nc net.Conn) *Client {
	c := &Client{
		nc:         nc,
		notesWake:  make(chan struct{}, 1),
		notes:      make(chan Notification),
		done:       make(chan struct{}),
		pumpDone:   make(chan struct{}),
		maxLineLen: 64 << 20,
	}
	go c.readLoop()
	go c.pump()
	return c
}

// Close closes the connection; pending calls fail with ErrClosed and the
// notification channel is closed.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.nc.Close() })
	<-c.done
	<-c.pumpDone
	return err
}

// Done is closed when the connection has ended (closed by either side).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended, or nil while it works.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// LocalAddr is the client's end of the connection.
func (c *Client) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Notifications delivers notifications in the order they arrived. None are
// dropped: they queue until read. The channel is closed when the
// connection ends.
func (c *Client) Notifications() <-chan Notification { return c.notes }

// Call sends one request and waits for its reply. args and kwargs are
// encoded with encoding/json (nil sends [] and {}). The result is the raw
// JSON of "return"; an exception is a *ServerError.
func (c *Client) Call(ctx context.Context, command string, args []any, kwargs map[string]any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	line, err := json.Marshal(struct {
		Command string         `json:"command"`
		Args    []any          `json:"args"`
		Kwargs  map[string]any `json:"kwargs"`
	}{command, args, kwargs})
	if err != nil {
		return nil, fmt.Errorf("spalloc client: encoding %s: %w", command, err)
	}
	reply, err := c.RoundTrip(ctx, line)
	if err != nil {
		return nil, err
	}
	return decodeReply(command, reply)
}

// Reply is the decoded form of a reply line.
type reply struct {
	Return    *json.RawMessage `json:"return"`
	Exception *json.RawMessage `json:"exception"`
}

func decodeReply(command string, line []byte) (json.RawMessage, error) {
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("spalloc client: %s: bad reply %q: %w", command, line, err)
	}
	if r.Exception != nil {
		var msg string
		if err := json.Unmarshal(*r.Exception, &msg); err != nil {
			msg = string(*r.Exception)
		}
		return nil, &ServerError{Command: command, Message: msg}
	}
	if r.Return == nil {
		return json.RawMessage("null"), nil
	}
	return *r.Return, nil
}

// RoundTrip sends one raw request line (without its newline) and returns
// the raw reply line: the object holding "return" or "exception". It is the
// building block of Call, and lets tests send lines byte for byte.
func (c *Client) RoundTrip(ctx context.Context, line []byte) ([]byte, error) {
	ch := make(chan result, 1)
	if err := c.send(line, ch); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		// The reply will still arrive and be dropped (ch is buffered).
		return nil, ctx.Err()
	}
}

// send writes one line and queues its waiter, atomically with respect to
// other senders, so that replies match waiters in order.
func (c *Client) send(line []byte, ch chan result) error {
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.pending = append(c.pending, ch)
	c.mu.Unlock()
	if _, err := c.nc.Write(buf); err != nil {
		// The reader notices too and fails every waiter, this one included.
		c.nc.Close()
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return nil
}

// readLoop reads lines until the connection ends, handing replies to
// waiters and notifications to the pump.
func (c *Client) readLoop() {
	defer close(c.done)
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var err error
	for {
		var line []byte
		line, err = r.ReadBytes('\n')
		if err != nil {
			break
		}
		if len(line) > c.maxLineLen {
			err = errors.New("reply line too long")
			break
		}
		if err = c.dispatch(line[:len(line)-1]); err != nil {
			break
		}
	}
	c.fail(err)
}

// kinds of line the server sends.
type lineKeys struct {
	Return          json.RawMessage `json:"return"`
	Exception       json.RawMessage `json:"exception"`
	JobsChanged     []int64         `json:"jobs_changed"`
	MachinesChanged []string        `json:"machines_changed"`
}

func (c *Client) dispatch(line []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return fmt.Errorf("server sent a line that is not a JSON object: %q", line)
	}
	_, isReturn := m["return"]
	_, isException := m["exception"]
	if isReturn || isException {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return fmt.Errorf("server sent a reply nobody asked for: %q", line)
		}
		ch := c.pending[0]
		c.pending = c.pending[1:]
		c.mu.Unlock()
		ch <- result{line: line}
		return nil
	}
	var k lineKeys
	if err := json.Unmarshal(line, &k); err != nil {
		return fmt.Errorf("server sent a bad notification %q: %v", line, err)
	}
	n := Notification{JobsChanged: k.JobsChanged, MachinesChanged: k.MachinesChanged}
	if n.JobsChanged == nil && n.MachinesChanged == nil {
		return fmt.Errorf("server sent a line that is neither a reply nor a notification: %q", line)
	}
	c.notesMu.Lock()
	c.notesQ = append(c.notesQ, n)
	c.notesMu.Unlock()
	select {
	case c.notesWake <- struct{}{}:
	default:
	}
	return nil
}

// fail ends the connection: every waiter gets ErrClosed (wrapping why).
func (c *Client) fail(cause error) {
	c.nc.Close()
	err := ErrClosed
	if cause != nil && !errors.Is(cause, net.ErrClosed) && cause.Error() != "EOF" {
		err = fmt.Errorf("%w: %v", ErrClosed, cause)
	}
	c.mu.Lock()
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ch := range pending {
		ch <- result{err: err}
	}
}

// pump moves queued notifications to the channel, so that a caller who
// does not read notifications never stalls the replies.
func (c *Client) pump() {
	defer close(c.pumpDone)
	defer close(c.notes)
	for {
		c.notesMu.Lock()
		var next *Notification
		if len(c.notesQ) > 0 {
			n := c.notesQ[0]
			c.notesQ = c.notesQ[1:]
			next = &n
		}
		c.notesMu.Unlock()
		if next == nil {
			select {
			case <-c.notesWake:
				continue
			case <-c.done:
				// Deliver what arrived before the end only if someone is
				// reading; do not block Close.
				return
			}
		}
		select {
		case c.notes <- *next:
		case <-c.done:
			return
		}
	}
}
