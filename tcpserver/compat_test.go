package tcpserver_test

// Compatibility details of the original server that a client can notice:
// blank lines are skipped without a reply, and the keyword argument
// "client" is accepted and ignored by every command.

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// lineConn is a raw connection to the harness's server: the test writes
// bytes exactly as given and reads reply lines.
type lineConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (h *harness) dialLines(t *testing.T) *lineConn {
	t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &lineConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *lineConn) write(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one reply line (without its newline); it fails after 10 s.
func (c *lineConn) line() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (partial %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// expect reads one reply line per pattern (see matchReply), in order.
func (c *lineConn) expect(patterns ...string) {
	c.t.Helper()
	for _, p := range patterns {
		matchReply(c.t, c.line(), p)
	}
}

// A line of nothing but whitespace is no request: it gets no reply, so the
// replies to the requests around it stay matched to them, whether the blank
// lines come in the same segment as requests, alone, or split across
// segments.
func TestBlankLinesAreSkipped(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dialLines(t)

	c.write("\n" +
		`{"command":"create_job","args":[1],"kwargs":{"owner":"me"}}` + "\n" +
		"  \t\r\n" +
		`{"command":"get_job_state","args":[1]}` + "\n" +
		"\n\n\r\n" +
		`{"command":"version"}` + "\r\n" +
		"\n")
	c.expect(`{"return":1}`,
		`{"return":{"state":2,"power":true,"keepalive":60.0,"reason":null,"start_time":<float>,"keepalivehost":"127.0.0.1"}}`,
		`{"return":"1.0.0"}`)

	// Blank lines on their own, one split across two segments, then a
	// request: its reply is the next line, so none came for the blanks.
	c.write("\n")
	c.write(" \t")
	c.write("\r\n")
	c.write(`{"command":"destroy_job","args":[1,"done"]}` + "\n")
	c.expect(`{"return":null}`)
	c.write(`{"command":"get_job_state","args":[1]}` + "\n\n")
	c.expect(`{"return":{"state":4,"power":null,"keepalive":null,"reason":"done","start_time":null,"keepalivehost":null}}`)

	// Anything else that is not a request still gets its exception.
	c.write("\n" + `x` + "\n\n" + `{"command":"version"}` + "\n")
	c.expect(`{"exception":"invalid request: not valid JSON: <any>"}`, `{"return":"1.0.0"}`)
}

// The keyword "client" is dropped from every command's arguments, as the
// original server did, and never shows among a job's kwargs in list_jobs.
func TestClientKeywordIsIgnored(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	c := h.dialLines(t)
	tests := []struct{ line, want string }{
		{`{"command":"version","kwargs":{"client":"spalloc 7.4.2"}}`, `{"return":"1.0.0"}`},
		{`{"command":"create_job","args":[1],"kwargs":{"client":"me@host","owner":"me","machine":"m"}}`, `{"return":1}`},
		{`{"command":"job_keepalive","args":[1],"kwargs":{"client":42}}`, `{"return":null}`},
		{`{"command":"get_job_state","kwargs":{"job_id":1,"client":null}}`,
			`{"return":{"state":2,"power":true,"keepalive":60.0,"reason":null,"start_time":<float>,"keepalivehost":"127.0.0.1"}}`},
		{`{"command":"notify_job","args":[null],"kwargs":{"client":{"any":["value"]}}}`, `{"return":null}`},
		{`{"command":"where_is","kwargs":{"machine":"m","x":0,"y":1,"z":1,"client":"x"}}`,
			`{"return":{"machine":"m","logical":[0,1,1],"physical":[0,10,10],"chip":[8,16],"board_chip":[0,0],"job_id":<any>,"job_chip":<any>}}`},
		{`{"command":"list_machines","kwargs":{"client":"x"}}`, `{"return":[{"name":"m",<any>}]}`},
		// Only the keyword "client" is ignored; other unknown ones are errors.
		{`{"command":"list_jobs","kwargs":{"client":"x","colour":"red"}}`,
			`{"exception":"list_jobs got unexpected keyword argument 'colour'"}`},
		{`{"command":"list_jobs","kwargs":{"client":"x"}}`,
			`{"return":[{"job_id":1,"owner":"me","start_time":<float>,"keepalive":60.0,"state":<any>,"power":true,"args":[1],` +
				`"kwargs":{"machine":"m"},"allocated_machine_name":"m","boards":<any>,"keepalivehost":"127.0.0.1"}]}`},
		{`{"command":"destroy_job","args":[1],"kwargs":{"reason":"bye","client":"x"}}`, `{"return":null}`},
	}
	for _, tt := range tests {
		c.write(tt.line + "\n")
		reply := c.line()
		for strings.HasPrefix(reply, `{"jobs_changed"`) { // watched since notify_job
			reply = c.line()
		}
		matchReply(t, reply, tt.want)
	}
}
