package tcpserver

import (
	"bytes"
	"errors"
	"io"
)

var errLineTooLong = errors.New("line too long")

// lineReader splits a byte stream into request lines (without their
// newline) of at most max bytes, skipping blank lines. Unlike bufio.Reader
// it says whether a complete line is already buffered, so the reader can
// run every pipelined request of one read and answer them with one write.
type lineReader struct {
	r          io.Reader
	max        int
	initial    int
	buf        []byte
	start, end int   // buf[start:end] is unconsumed input
	scanned    int   // buf[start:start+scanned] holds no newline
	err        error // a read error held back until the bytes before it are used
}

func newLineReader(r io.Reader, max, initial int) *lineReader {
	return &lineReader{r: r, max: max, initial: initial}
}

// buffered returns the next complete request line already read, or ok
// false if there is none. Lines that hold only whitespace are skipped: they
// are not requests and get no reply, as with the original server, so that
// a client that writes an extra newline still gets its replies matched to
// its requests. A blank line counts against max like any other (a stream of
// spaces must not grow the buffer without end). The line is valid until the
// next call of fill.
func (lr *lineReader) buffered() (line []byte, ok bool, err error) {
	for {
		i := bytes.IndexByte(lr.buf[lr.start+lr.scanned:lr.end], '\n')
		if i < 0 {
			lr.scanned = lr.end - lr.start
			if lr.scanned > lr.max {
				return nil, false, errLineTooLong
			}
			return nil, false, nil
		}
		line = lr.buf[lr.start : lr.start+lr.scanned+i]
		lr.start += lr.scanned + i + 1
		lr.scanned = 0
		if len(line) > lr.max {
			return nil, false, errLineTooLong
		}
		if !isBlank(line) {
			return line, true, nil
		}
	}
}

// isBlank reports whether line holds nothing but JSON whitespace.
func isBlank(line []byte) bool { return len(trimSpace(line)) == 0 }

// fill reads once more. A partial line at the end of the stream is not a
// request: the read error (io.EOF) is returned as it is.
func (lr *lineReader) fill() error {
	if lr.err != nil {
		return lr.err
	}
	switch {
	case lr.start == lr.end:
		lr.start, lr.end, lr.scanned = 0, 0, 0
		if len(lr.buf) > 4*lr.initial {
			lr.buf = nil // do not keep a long line's buffer
		}
	case lr.start > 0:
		lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start = 0
	}
	if lr.buf == nil {
		lr.buf = make([]byte, lr.initial)
	}
	if lr.end == len(lr.buf) {
		// A line longer than the buffer: grow up to the longest allowed
		// line and its newline.
		grown := make([]byte, max(min(2*len(lr.buf), lr.max+1), lr.end+1))
		copy(grown, lr.buf[:lr.end])
		lr.buf = grown
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	if n > 0 {
		lr.err = err
		return nil
	}
	return err
}

// next returns the next line, reading as needed; for tests.
func (lr *lineReader) next() ([]byte, error) {
	for {
		line, ok, err := lr.buffered()
		if ok || err != nil {
			return line, err
		}
		if err := lr.fill(); err != nil {
			return nil, err
		}
	}
}
