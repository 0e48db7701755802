//go:build !unix

package tcpserver

import (
	"errors"
	"syscall"
)

// canRaw: on this system the reader reads through net.Conn and every write
// goes through the writer goroutine.
const canRaw = false

func writeNonblock(uintptr, []byte) (int, error) {
	return 0, errors.New("tcpserver: non-blocking writes are not supported here")
}

type rawReader struct{ raw syscall.RawConn }

func (rawReader) Read([]byte) (int, error) {
	return 0, errors.New("tcpserver: raw reads are not supported here")
}

func isPeerGone(error) bool { return false }
