package tcpserver

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name    string
		input   string
		max     int
		want    []string
		wantErr error
	}{
		{"several lines in one read", "a\nbb\nccc\n", 10, []string{"a", "bb", "ccc"}, io.EOF},
		{"blank lines are skipped", "\na\n  \t\r\n\n\r\nbb\n \n", 10, []string{"a", "bb"}, io.EOF},
		{"only blank lines", "\n\n \n", 10, nil, io.EOF},
		{"a line with text between spaces is kept", " a \n", 10, []string{" a "}, io.EOF},
		{"a blank line over the limit", "a\n" + strings.Repeat(" ", 41) + "\nz\n", 40, []string{"a"}, errLineTooLong},
		{"spaces over the limit before a newline", "a\n" + strings.Repeat(" ", 45), 40, []string{"a"}, errLineTooLong},
		{"a blank line of exactly the limit", strings.Repeat("\t", 40) + "\nz\n", 40, []string{"z"}, io.EOF},
		{"a partial line at the end is not a line", "a\nb", 10, []string{"a"}, io.EOF},
		{"CR is kept for the parser", "a\r\n", 10, []string{"a\r"}, io.EOF},
		{"a line of exactly the limit", long + "\nz\n", 40, []string{long, "z"}, io.EOF},
		{"a line over the limit", "a\n" + long + "y\nz\n", 40, []string{"a"}, errLineTooLong},
		{"over the limit before its newline", "a\n" + long + "yyyy", 40, []string{"a"}, errLineTooLong},
		{"long lines grow the buffer, short ones follow", long + "\n" + long + long + "\nb\n", 100,
			[]string{long, long + long, "b"}, io.EOF},
	}
	for _, tt := range tests {
		for _, r := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"byte by byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"data with EOF", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
		} {
			t.Run(tt.name+"/"+r.name, func(t *testing.T) {
				lr := newLineReader(r.r(tt.input), tt.max, 8)
				var got []string
				var err error
				for {
					var line []byte
					if line, err = lr.next(); err != nil {
						break
					}
					got = append(got, string(line))
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ended with %v, want %v", err, tt.wantErr)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Fatalf("lines %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// buffered tells a complete line from a partial one without reading.
func TestLineReaderBuffered(t *testing.T) {
	lr := newLineReader(strings.NewReader("one\ntwo\nthr"), 100, 64)
	if _, ok, _ := lr.buffered(); ok {
		t.Fatal("a line before anything was read")
	}
	if err := lr.fill(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		line, ok, err := lr.buffered()
		if !ok || err != nil || string(line) != want {
			t.Fatalf("got %q %v %v, want %q", line, ok, err, want)
		}
	}
	if line, ok, err := lr.buffered(); ok || err != nil {
		t.Fatalf("the partial line came out: %q %v", line, err)
	}
}
