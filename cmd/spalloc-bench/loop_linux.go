//go:build linux

package main

// The event loop: non-blocking sockets watched by one epoll instance, driven
// from one goroutine. Per request it costs one write and (usually less
// than) one read and one epoll_wait, so the load tool leaves the CPU to the
// server under test; a goroutine per connection would cost a netpoller
// wake-up and scheduler round per reply.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// econn is one connection of a loop.
type econn struct {
	fd      int
	sess    session
	partial []byte // the start of a line not yet complete
	out     []byte // requests built but not yet written
	unsent  []byte // bytes a short write left behind (rare)
	wantOut bool   // EPOLLOUT requested for unsent
	closed  bool
}

// loop drives a set of connections until every session is done.
type loop struct {
	epfd  int
	conns map[int]*econn
	rbuf  []byte
	clock *clock
	abort *atomic.Bool // set on interrupt: stop now
}

// dialRaw connects a blocking TCP socket to addr, then makes it
// non-blocking: loopback connects are immediate, and this keeps the socket
// out of Go's own poller.
func dialRaw(addr *net.TCPAddr) (int, error) {
	family := syscall.AF_INET
	var sa syscall.Sockaddr
	if ip4 := addr.IP.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: addr.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = syscall.AF_INET6
		s := &syscall.SockaddrInet6{Port: addr.Port}
		copy(s.Addr[:], addr.IP.To16())
		sa = s
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	for {
		err = syscall.Connect(fd, sa)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", addr, err)
	}
	// Requests are small and must leave at once.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("TCP_NODELAY: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("non-blocking: %w", err)
	}
	return fd, nil
}

func newLoop(c *clock) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &loop{epfd: epfd, conns: map[int]*econn{}, rbuf: make([]byte, 256<<10), clock: c}, nil
}

// add registers a connected non-blocking socket (level-triggered: a reply
// left unread is reported again, so one read per wake-up is enough).
func (l *loop) add(fd int, s session) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	l.conns[fd] = &econn{fd: fd, sess: s}
	return nil
}

// close closes the loop and every connection.
func (l *loop) close() {
	for fd, c := range l.conns {
		if !c.closed {
			syscall.Close(fd)
		}
	}
	syscall.Close(l.epfd)
}

// errConnClosed reports a connection the server closed.
var errConnClosed = errors.New("the server closed the connection")

// run starts every session, then serves events until all sessions report
// done. At stopAt (or on abort) it asks every session to stop; if some
// still wait for replies at drainBy, it gives up.
func (l *loop) run(stopAt, drainBy time.Duration) error {
	now := l.clock.now()
	for _, c := range l.conns {
		c.out = c.sess.begin(now, c.out[:0])
		if err := l.flush(c); err != nil {
			return err
		}
	}
	events := make([]syscall.EpollEvent, 256)
	stopping := false
	lastCheck := time.Duration(0)
	for {
		now = l.clock.now()
		if !stopping && (now >= stopAt || (l.abort != nil && l.abort.Load())) {
			stopping = true
			drainBy = min(drainBy, now+(drainBy-stopAt))
			stopAt = now
			for _, c := range l.conns {
				c.sess.stop()
			}
		}
		// Sessions may also finish on their own (-op memory); looking
		// at every one of them is cheap enough every few milliseconds.
		if stopping || now-lastCheck > 5*time.Millisecond {
			lastCheck = now
			if l.allDone() {
				return nil
			}
		}
		if stopping && now >= drainBy {
			return fmt.Errorf("replies still outstanding %s after the end", drainBy-stopAt)
		}
		wait := stopAt - now
		if stopping {
			wait = drainBy - now
		}
		timeout := int(min(wait/time.Millisecond+1, 100))
		n, err := syscall.EpollWait(l.epfd, events, timeout)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for i := range n {
			ev := events[i]
			c := l.conns[int(ev.Fd)]
			if c == nil || c.closed {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				if err := l.flushUnsent(c); err != nil {
					return err
				}
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				if err := l.readable(c); err != nil {
					return err
				}
			}
		}
	}
}

func (l *loop) allDone() bool {
	for _, c := range l.conns {
		if !c.sess.done() {
			return false
		}
	}
	return true
}

// readable reads what has arrived, hands every complete line to the
// session and sends what the session asks for in one write. The clock is
// read after each read, not once per epoll_wait: a reply's latency ends
// when it is read and the next request's starts just before its write,
// wherever the connection stands in a batch of ready events.
func (l *loop) readable(c *econn) error {
	n, err := rawRead(c.fd, l.rbuf)
	now := l.clock.now()
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		if c.sess.done() {
			c.closed = true
			syscall.Close(c.fd)
			return nil
		}
		return errConnClosed
	}
	data := l.rbuf[:n]
	c.out = c.out[:0]
	if len(c.partial) > 0 {
		// Complete the carried-over line first.
		i := indexNL(data)
		if i < 0 {
			c.partial = append(c.partial, data...)
			return nil
		}
		c.partial = append(c.partial, data[:i]...)
		if c.out, err = c.sess.line(c.partial, now, c.out); err != nil {
			return err
		}
		c.partial = c.partial[:0]
		data = data[i+1:]
	}
	for len(data) > 0 {
		i := indexNL(data)
		if i < 0 {
			c.partial = append(c.partial, data...)
			break
		}
		if c.out, err = c.sess.line(data[:i], now, c.out); err != nil {
			return err
		}
		data = data[i+1:]
	}
	return l.flush(c)
}

// flush writes c.out, keeping whatever the socket did not take.
func (l *loop) flush(c *econn) error {
	if len(c.out) == 0 {
		return nil
	}
	if len(c.unsent) > 0 {
		c.unsent = append(c.unsent, c.out...)
		return nil
	}
	n, err := rawWrite(c.fd, c.out)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		n, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if n < len(c.out) {
		c.unsent = append(c.unsent[:0], c.out[n:]...)
		return l.watchOut(c, true)
	}
	return nil
}

func (l *loop) flushUnsent(c *econn) error {
	for len(c.unsent) > 0 {
		n, err := rawWrite(c.fd, c.unsent)
		if err == syscall.EAGAIN {
			return nil
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		c.unsent = c.unsent[:copy(c.unsent, c.unsent[n:])]
	}
	return l.watchOut(c, false)
}

func (l *loop) watchOut(c *econn, on bool) error {
	if c.wantOut == on {
		return nil
	}
	c.wantOut = on
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	if on {
		ev.Events |= syscall.EPOLLOUT
	}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl mod: %w", err)
	}
	return nil
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

// rawRead and rawWrite skip the runtime's blocking-syscall bookkeeping:
// the sockets are non-blocking, so these never block.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
