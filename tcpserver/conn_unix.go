//go:build unix

package tcpserver

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// canRaw: the reader reads and writes the socket itself with non-blocking
// system calls.
const canRaw = true

// The socket is non-blocking, so read and write return at once: they are
// made as raw system calls, without telling the scheduler that the
// goroutine may block. Otherwise, with thousands of them a second, the
// runtime's monitor keeps handing the goroutine's processor to another
// thread and waking every 20 µs to do so, which costs more than the calls.

func rawSyscall(trap uintptr, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// writeNonblock writes as much of p to the non-blocking socket fd as it
// takes now.
func writeNonblock(fd uintptr, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, e := rawSyscall(syscall.SYS_WRITE, fd, p[n:])
		switch {
		case e == syscall.EAGAIN:
			return n, nil
		case e != 0:
			return n, os.NewSyscallError("write", e)
		case m == 0:
			return n, nil
		}
		n += m
	}
	return n, nil
}

// rawReader reads a socket with raw read calls, waiting in the netpoller
// (with the connection's deadline) when nothing has arrived.
type rawReader struct{ raw syscall.RawConn }

func (r rawReader) Read(p []byte) (int, error) {
	var n int
	var e syscall.Errno
	err := r.raw.Read(func(fd uintptr) bool {
		n, e = rawSyscall(syscall.SYS_READ, fd, p)
		return e != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err
	case e != 0:
		return 0, os.NewSyscallError("read", e)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// isPeerGone reports a write error that only means the client has gone.
func isPeerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}
