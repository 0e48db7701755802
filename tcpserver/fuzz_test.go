package tcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

// fullFake answers every command with a non-trivial value, so that the
// fuzzer also drives every encoder.
func fullFake() *fakeBackend {
	return &fakeBackend{
		state: service.JobStatus{State: service.StateReady, Power: ptr(true), Keepalive: ptr(time.Minute),
			StartTime: ptr(time.UnixMicro(1500000)), KeepaliveHost: ptr("127.0.0.1"), Reason: ptr("why\n")},
		info: &service.JobMachineInfo{Width: 8, Height: 8, MachineName: "m\"",
			Connections: []service.Connection{cn(0, 0, "10.0.0.1")}, Boards: []geometry.Board{bd(0, 0, 0)}},
		jobs: []service.JobSummary{{ID: 1, Owner: "o", Args: json.RawMessage(`[1]`), Kwargs: json.RawMessage(`{"a":null}`),
			Boards: []geometry.Board{bd(1, 2, 0)}}},
		machines: []service.MachineSummary{{Name: "m", Tags: []string{"default"}, Width: 1, Height: 1,
			DeadLinks: []service.DeadLink{{Board: bd(0, 0, 0), Link: 5}}}},
		pos:   &service.Physical{Cabinet: 1, Frame: 2, Board: 3},
		board: &geometry.Board{X: 1, Y: 2, Z: 0},
		where: &service.WhereIsResult{Machine: "m", JobID: ptr[int64](3), JobChip: &[2]int{1, 2}},
	}
}

// FuzzDispatch feeds arbitrary bytes to the framing and dispatch of one
// connection: nothing panics; every complete line within the limit that is
// not blank gets exactly one reply line holding exactly one of "return" and
// "exception", and blank lines are skipped; an oversized line ends the
// connection; and the request parser accepts exactly the JSON that
// encoding/json accepts.
func FuzzDispatch(f *testing.F) {
	f.Add([]byte(`{"command":"version","args":[],"kwargs":{}}` + "\n"))
	f.Add([]byte(`{"command":"create_job","args":[2,1],"kwargs":{"owner":"me"}}` + "\n{\n"))
	f.Add([]byte(`{"command":"where_is","kwargs":{"job_id":1,"chip_x":0,"chip_y":0}}`))
	f.Add([]byte("\n \t\r\n" + `{"command":"version","kwargs":{"client":1}}` + "\n\n"))
	const maxLine = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		fake := fullFake()
		e := testEnv(fake)
		// Short reads into a buffer that starts at 16 bytes: lines split
		// across reads, and the buffer grows.
		lr := newLineReader(iotest.HalfReader(bytes.NewReader(data)), maxLine, 16)
		pieces := bytes.Split(data, []byte("\n"))
		for i, piece := range pieces {
			complete := i < len(pieces)-1
			if len(piece) <= maxLine && (!complete || isBlank(piece)) {
				continue // a partial last line or a blank line: never returned
			}
			line, err := lr.next()
			if len(piece) > maxLine {
				if !errors.Is(err, errLineTooLong) {
					t.Fatalf("line %d (%d bytes): got %q, %v, want errLineTooLong", i, len(piece), line, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			if !bytes.Equal(line, piece) {
				t.Fatalf("line %d is %q, want %q", i, line, piece)
			}
			checkReply(t, line, respond(context.Background(), e, line, nil))
			checkParserAgrees(t, line)
		}
		if line, err := lr.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last line: %q, %v, want EOF", line, err)
		}
	})
}

func checkReply(t *testing.T, line, reply []byte) {
	t.Helper()
	if len(reply) == 0 || reply[len(reply)-1] != '\n' || bytes.Count(reply, []byte("\n")) != 1 {
		t.Fatalf("line %q: reply %q is not exactly one line", line, reply)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(reply, &m); err != nil {
		t.Fatalf("line %q: reply %q is not a JSON object: %v", line, reply, err)
	}
	_, isReturn := m["return"]
	exc, isException := m["exception"]
	if len(m) != 1 || isReturn == isException {
		t.Fatalf("line %q: reply %q must hold exactly one of return and exception", line, reply)
	}
	if isException {
		var msg string
		if json.Unmarshal(exc, &msg) != nil || msg == "" {
			t.Fatalf("line %q: exception %s is not a non-empty string", line, exc)
		}
	}
}

// checkParserAgrees compares parseRequest with encoding/json.
func checkParserAgrees(t *testing.T, line []byte) {
	t.Helper()
	body := trimSpace(line)
	err := validJSON(body)
	if errors.Is(err, errDepth) {
		return // encoding/json allows deeper nesting; no request needs it
	}
	if (err == nil) != json.Valid(body) {
		t.Fatalf("%q: validJSON says %v, json.Valid says %v", body, err, json.Valid(body))
	}
	req, perr := parseRequest(line)
	if perr != nil {
		return
	}
	var ref struct {
		Command string                     `json:"command"`
		Args    []json.RawMessage          `json:"args"`
		Kwargs  map[string]json.RawMessage `json:"kwargs"`
	}
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatalf("%q: accepted, but encoding/json says %v", body, err)
	}
	_ = json.Unmarshal(generic["command"], &ref.Command)
	if req.command != ref.Command {
		t.Fatalf("%q: command %q, encoding/json %q", body, req.command, ref.Command)
	}
	if a, ok := generic["args"]; ok && json.Unmarshal(a, &ref.Args) == nil && len(ref.Args) != len(req.args) {
		t.Fatalf("%q: %d args, encoding/json %d", body, len(req.args), len(ref.Args))
	}
	if k, ok := generic["kwargs"]; ok && json.Unmarshal(k, &ref.Kwargs) == nil {
		delete(ref.Kwargs, ignoredKeyword)
		for _, kw := range req.kwargs {
			v, ok := ref.Kwargs[kw.name]
			if !ok || !bytes.Equal(v, kw.value) {
				t.Fatalf("%q: kwarg %q = %s, encoding/json %s", body, kw.name, kw.value, v)
			}
		}
		if len(ref.Kwargs) != len(req.kwargs) {
			t.Fatalf("%q: %d kwargs, encoding/json %d", body, len(req.kwargs), len(ref.Kwargs))
		}
	}
}
