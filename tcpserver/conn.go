package tcpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one client connection: a reader goroutine that parses and runs
// requests in order, and a writer goroutine that drains out to the socket.
type conn struct {
	s       *Server
	nc      net.Conn
	host    string
	cancel  context.CancelFunc // ends the context of the requests in progress
	watches watches

	stopRead   atomic.Bool   // Shutdown: run no further requests
	writerDone chan struct{} // closed when writeLoop returns
	closeOnce  sync.Once

	// Outgoing bytes, shared by the reader (replies), the hub
	// (notifications) and the writer.
	mu       sync.Mutex
	out      []byte // waiting to be written
	spare    []byte // the writer's previous batch, reused
	inflight int    // bytes being written now
	closed   bool   // accept no more output; the writer stops
	eof      bool   // the reader is done; the writer stops once out is empty
	wake     chan struct{}

	// Reader-only state.
	long    []byte // a line longer than the read buffer, assembled
	scratch []byte // the reply being built
}

// newConn returns a connection and the context its requests run in, which
// ends when the connection is closed.
func newConn(ctx context.Context, s *Server, nc net.Conn) (*conn, context.Context) {
	cctx, cancel := context.WithCancel(ctx)
	return &conn{
		s:          s,
		nc:         nc,
		host:       remoteHost(nc),
		cancel:     cancel,
		writerDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}, cctx
}

var errLineTooLong = errors.New("line too long")

// readLoop reads and runs requests until the client hangs up, the
// connection is closed, or the server shuts down.
func (c *conn) readLoop(ctx context.Context) {
	defer c.s.wg.Done()
	c.s.log.Debug("tcpserver: client connected", "remote", c.nc.RemoteAddr().String())
	r := bufio.NewReaderSize(c.nc, 4096)
	e := env{svc: c.s.svc, host: c.host, watches: &c.watches, log: c.s.log, remote: c.nc.RemoteAddr().String()}
	for !c.stopRead.Load() {
		line, err := c.readLine(r)
		if err != nil {
			c.readFailed(err)
			break
		}
		c.handle(ctx, &e, line)
	}
	c.finishReading()
	<-c.writerDone
	c.cancel()
	c.s.removeConn(c)
	c.s.log.Debug("tcpserver: client disconnected", "remote", c.nc.RemoteAddr().String())
}

// readLine returns the next line without its newline. It is valid until
// the next call.
func (c *conn) readLine(r *bufio.Reader) ([]byte, error) {
	max := c.s.opts.MaxLineBytes
	c.long = c.long[:0]
	for {
		frag, err := r.ReadSlice('\n')
		switch {
		case err == nil && len(c.long) == 0:
			if len(frag)-1 > max {
				return nil, errLineTooLong
			}
			return frag[:len(frag)-1], nil
		case err == nil:
			c.long = append(c.long, frag...)
			if len(c.long)-1 > max {
				return nil, errLineTooLong
			}
			return c.long[:len(c.long)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			c.long = append(c.long, frag...)
			if len(c.long) > max {
				return nil, errLineTooLong
			}
		default:
			// A partial line at the end of the stream is not a request.
			return nil, err
		}
	}
}

func (c *conn) readFailed(err error) {
	remote := c.nc.RemoteAddr().String()
	switch {
	case errors.Is(err, errLineTooLong):
		c.s.log.Warn("tcpserver: request line too long; disconnecting client",
			"remote", remote, "limit", c.s.opts.MaxLineBytes)
		c.enqueue(appendException(nil, fmt.Sprintf(
			"request line longer than %d bytes; closing the connection", c.s.opts.MaxLineBytes)))
	case c.stopRead.Load() || quietErr(err):
	default:
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			c.s.log.Debug("tcpserver: read failed", "remote", remote, "err", err)
		}
	}
}

// handle runs one request line and queues its reply.
func (c *conn) handle(ctx context.Context, e *env, line []byte) {
	defer c.recoverPanic()
	c.scratch = respond(ctx, e, line, c.scratch[:0])
	c.enqueue(c.scratch)
	if cap(c.scratch) > 64<<10 {
		c.scratch = nil // do not keep a huge list_jobs reply's buffer
	}
}

// recoverPanic turns a panic while handling a request (a bug) into an
// exception reply and the end of this connection only; the server and
// its other clients go on.
func (c *conn) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	c.s.log.Error("tcpserver: panic while handling a request; closing the connection",
		"remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
	c.enqueue(appendException(nil, "internal server error"))
	c.stopRead.Store(true)
}

// enqueue appends p (copied) to the outgoing buffer. A client whose unread
// output passes the limit is disconnected.
func (c *conn) enqueue(p []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	pending := len(c.out) + c.inflight
	if pending > 0 && pending+len(p) > c.s.opts.MaxOutBuffer {
		c.mu.Unlock()
		c.s.log.Warn("tcpserver: client does not read its replies; disconnecting",
			"remote", c.nc.RemoteAddr().String(), "pending_bytes", pending, "limit", c.s.opts.MaxOutBuffer)
		c.close()
		return
	}
	c.out = append(c.out, p...)
	c.mu.Unlock()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued output until the connection is closed, or the
// reader is done and everything is written.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer close(c.writerDone)
	defer c.close()
	for {
		batch, ok := c.nextBatch()
		if !ok {
			return
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout))
		_, err := c.nc.Write(batch)
		c.mu.Lock()
		c.inflight = 0
		if cap(batch) <= 64<<10 {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// nextBatch waits for output and takes all of it; false when the writer
// should stop.
func (c *conn) nextBatch() ([]byte, bool) {
	c.mu.Lock()
	for len(c.out) == 0 {
		if c.closed || c.eof {
			c.mu.Unlock()
			return nil, false
		}
		c.mu.Unlock()
		<-c.wake
		c.mu.Lock()
	}
	batch := c.out
	c.out, c.spare = c.spare, nil
	c.inflight = len(batch)
	c.mu.Unlock()
	return batch, true
}

func (c *conn) writeFailed(err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.s.log.Warn("tcpserver: write to client timed out; disconnecting",
			"remote", c.nc.RemoteAddr().String(), "timeout", c.s.opts.WriteTimeout)
	case quietErr(err):
	default:
		c.s.log.Debug("tcpserver: write failed", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
}

// finishReading tells the writer that no more replies will come.
func (c *conn) finishReading() {
	c.mu.Lock()
	c.eof = true
	c.mu.Unlock()
	c.signal()
}

// stopReading makes the reader stop after the request it is running (if
// any): Shutdown.
func (c *conn) stopReading() {
	c.stopRead.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

// close drops pending output and closes the socket; the reader and writer
// then stop.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.out = nil
		c.mu.Unlock()
		c.cancel()
		c.nc.Close()
		c.signal()
	})
}
