package tcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Tuning of one connection.
const (
	readBufSize = 4096     // initial read buffer; grows for long lines
	flushAt     = 32 << 10 // replies batched before they are sent anyway
	keepScratch = 64 << 10 // a larger reply buffer is not kept
)

// conn is one client connection. Its reader goroutine parses and runs
// requests in order and, when nothing is queued ahead of them, writes the
// replies itself with one non-blocking write; whatever the socket does not
// take at once, and notifications that find the socket busy, wait in out
// for the writer goroutine, which writes with a deadline.
type conn struct {
	s       *Server
	nc      net.Conn
	raw     syscall.RawConn // nil: read through nc, and the writer writes everything
	host    string
	cancel  context.CancelFunc // ends the context of the requests in progress
	watches watches

	stopRead   atomic.Bool   // Shutdown: run no further requests
	writerDone chan struct{} // closed when writeLoop returns
	closeOnce  sync.Once

	// Outgoing bytes, shared by the reader (replies), the hub
	// (notifications) and the writer.
	mu       sync.Mutex
	out      []byte // waiting to be written, in order
	spare    []byte // the writer's previous batch, reused
	inflight int    // bytes the writer is writing now
	writing  bool   // the socket is being written (by anyone): the others queue
	closed   bool   // accept no more output; the writer stops
	eof      bool   // the reader is done; the writer stops once out is empty
	wake     chan struct{}

	// Reader-only state.
	scratch []byte // replies built since the last flush
}

// newConn returns a connection and the context its requests run in, which
// ends when the connection is closed.
func newConn(ctx context.Context, s *Server, nc net.Conn) (*conn, context.Context) {
	cctx, cancel := context.WithCancel(ctx)
	c := &conn{
		s:          s,
		nc:         nc,
		host:       remoteHost(nc),
		cancel:     cancel,
		writerDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}
	c.watches.round = &s.round
	if sc, ok := nc.(syscall.Conn); ok && canRaw {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	return c, cctx
}

// readLoop reads and runs requests until the client hangs up, the
// connection is closed, or the server shuts down.
func (c *conn) readLoop(ctx context.Context) {
	defer c.s.wg.Done()
	c.s.log.Debug("tcpserver: client connected", "remote", c.nc.RemoteAddr().String())
	e := env{svc: c.s.svc, rec: c.s.opts.Recorder, host: c.host, watches: &c.watches, log: c.s.log,
		remote: c.nc.RemoteAddr().String(), heavy: c.s.heavy}
	var r io.Reader = c.nc
	if c.raw != nil {
		r = rawReader{c.raw}
	}
	c.serve(ctx, &e, newLineReader(r, c.s.opts.MaxLineBytes, readBufSize))
	c.finishReading()
	<-c.writerDone
	c.cancel()
	c.s.removeConn(c)
	c.s.log.Debug("tcpserver: client disconnected", "remote", c.nc.RemoteAddr().String())
}

// serve runs every complete line of each read, then sends their replies
// together: a client that pipelines gets one write per read, not one per
// request.
func (c *conn) serve(ctx context.Context, e *env, lr *lineReader) {
	defer c.flush()
	for !c.stopRead.Load() {
		line, ok, err := lr.buffered()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !ok {
			c.flush()
			if c.stopRead.Load() {
				return
			}
			if err := lr.fill(); err != nil {
				c.readFailed(err)
				return
			}
			continue
		}
		c.handle(ctx, e, line)
		if len(c.scratch) >= flushAt {
			c.flush()
		}
	}
}

func (c *conn) readFailed(err error) {
	remote := c.nc.RemoteAddr().String()
	switch {
	case err == errLineTooLong:
		c.s.log.Warn("tcpserver: request line too long; disconnecting client",
			"remote", remote, "limit", c.s.opts.MaxLineBytes)
		c.scratch = appendException(c.scratch, fmt.Sprintf(
			"request line longer than %d bytes; closing the connection", c.s.opts.MaxLineBytes))
	case c.stopRead.Load() || quietErr(err):
	default:
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			c.s.log.Debug("tcpserver: read failed", "remote", remote, "err", err)
		}
	}
}

// handle runs one request line and appends its reply to scratch.
func (c *conn) handle(ctx context.Context, e *env, line []byte) {
	start := len(c.scratch)
	defer c.recoverPanic(start)
	c.scratch = respond(ctx, e, line, c.scratch)
}

// recoverPanic turns a panic while handling a request (a bug) into an
// exception reply and the end of this connection only; the server and
// its other clients go on. Replies to earlier requests still go out.
func (c *conn) recoverPanic(start int) {
	p := recover()
	if p == nil {
		return
	}
	c.s.log.Error("tcpserver: panic while handling a request; closing the connection",
		"remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
	c.scratch = appendException(c.scratch[:start], "internal server error")
	c.stopRead.Store(true)
}

// flush sends the replies built so far.
func (c *conn) flush() {
	if len(c.scratch) == 0 {
		return
	}
	c.send(c.scratch)
	if cap(c.scratch) > keepScratch {
		c.scratch = nil // do not keep a huge list_jobs reply's buffer
	} else {
		c.scratch = c.scratch[:0]
	}
}

// send writes p to the client, or queues a copy of it for the writer. It
// never blocks on the socket, so the hub may use it too. When nothing is
// queued and nobody is writing, it writes p itself with one non-blocking
// write (no hand-off to the writer goroutine); what the socket does not
// take is queued ahead of anything queued meanwhile.
func (c *conn) send(p []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.raw == nil || c.writing || len(c.out) > 0 {
		c.enqueueLocked(p)
		return
	}
	c.writing = true
	c.mu.Unlock()

	n, err := c.tryWrite(p)

	c.mu.Lock()
	c.writing = false
	if err != nil || c.closed {
		c.mu.Unlock()
		if err != nil {
			c.writeFailed(err)
			c.close()
		}
		return
	}
	if n < len(p) {
		if c.overCapLocked(len(p) - n) {
			c.mu.Unlock()
			c.disconnectNonReader(len(p) - n)
			return
		}
		rest := make([]byte, 0, len(p)-n+len(c.out))
		rest = append(rest, p[n:]...)
		c.out = append(rest, c.out...)
	}
	// The writer waits for output, or (once the reader is done) for the
	// socket to be free so that it can finish.
	wakeWriter := len(c.out) > 0 || c.eof
	c.mu.Unlock()
	if wakeWriter {
		c.signal()
	}
}

// tryWrite writes as much of p as the socket takes without waiting.
func (c *conn) tryWrite(p []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		n, werr = writeNonblock(fd, p)
		return true
	})
	if werr != nil {
		return n, werr
	}
	return n, err
}

// enqueueLocked appends p (copied) to the outgoing buffer and unlocks c.mu.
// A client whose unread output would pass the limit is disconnected.
func (c *conn) enqueueLocked(p []byte) {
	if c.overCapLocked(len(p)) {
		c.mu.Unlock()
		c.disconnectNonReader(len(p))
		return
	}
	c.out = append(c.out, p...)
	c.mu.Unlock()
	c.signal()
}

// overCapLocked reports whether extra more unwritten bytes would pass the
// connection's output limit. Every byte not yet written counts: queued,
// being written by the writer, and extra itself, however large one reply is.
func (c *conn) overCapLocked(extra int) bool {
	return len(c.out)+c.inflight+extra > c.s.opts.MaxOutBuffer
}

// disconnectNonReader closes a client whose unread output passed the limit.
func (c *conn) disconnectNonReader(extra int) {
	c.mu.Lock()
	pending := len(c.out) + c.inflight + extra
	c.mu.Unlock()
	c.s.log.Warn("tcpserver: client does not read its replies; disconnecting",
		"remote", c.nc.RemoteAddr().String(), "unwritten_bytes", pending, "limit", c.s.opts.MaxOutBuffer)
	c.close()
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
		// The reader's non-blocking writes must not meet an old deadline.
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.mu.Lock()
		c.inflight = 0
		c.writing = false
		if cap(batch) <= keepScratch {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// nextBatch waits until there is output and nobody else writes, and takes
// all of it; false when the writer should stop.
func (c *conn) nextBatch() ([]byte, bool) {
	c.mu.Lock()
	for len(c.out) == 0 || c.writing {
		if c.closed || (c.eof && len(c.out) == 0 && !c.writing) {
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
	c.writing = true
	c.mu.Unlock()
	return batch, true
}

func (c *conn) writeFailed(err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.s.log.Warn("tcpserver: write to client timed out; disconnecting",
			"remote", c.nc.RemoteAddr().String(), "timeout", c.s.opts.WriteTimeout)
	case quietErr(err) || isPeerGone(err):
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
// then stop. The reader runs no further request, not even one it has
// already read: its reply could not be sent.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.stopRead.Store(true)
		c.mu.Lock()
		c.closed = true
		c.out = nil
		c.mu.Unlock()
		c.cancel()
		c.nc.Close()
		c.signal()
	})
}
