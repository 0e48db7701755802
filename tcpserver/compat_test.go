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

// dialLines connects to the harness's server; send writes bytes exactly as
// given, next reads one reply line (without its newline).
func (h *harness) dialLines(t *testing.T) (send func(string), next func() string) {
	t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second)) // only against a hung test
	r := bufio.NewReader(nc)
	send = func(s string) {
		if _, err := nc.Write([]byte(s)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	next = func() string {
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (partial %q)", err, s)
		}
		return strings.TrimSuffix(s, "\n")
	}
	return send, next
}

// expectReplies reads one reply line per pattern (see matchReply), in order.
func expectReplies(t *testing.T, next func() string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		matchReply(t, next(), p)
	}
}

// A line of nothing but whitespace is no request: it gets no reply, so the
// replies to the requests around it stay matched to them, whether the blank
// lines come in the same segment as requests, alone, or split across
// segments.
func TestBlankLinesAreSkipped(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	send, next := h.dialLines(t)

	send("\n" +
		`{"command":"create_job","args":[1],"kwargs":{"owner":"me"}}` + "\n" +
		"  \t\r\n" +
		`{"command":"get_job_state","args":[1]}` + "\n" +
		"\n\n\r\n" +
		`{"command":"version"}` + "\r\n" +
		"\n")
	expectReplies(t, next, `{"return":1}`,
		`{"return":{"state":2,"power":true,"keepalive":60.0,"reason":null,"start_time":<float>,"keepalivehost":"127.0.0.1"}}`,
		`{"return":"1.0.0"}`)

	// Blank lines on their own, one split across two segments, then a
	// request: its reply is the next line, so none came for the blanks.
	send("\n")
	send(" \t")
	send("\r\n")
	send(`{"command":"destroy_job","args":[1,"done"]}` + "\n")
	expectReplies(t, next, `{"return":null}`)
	send(`{"command":"get_job_state","args":[1]}` + "\n\n")
	expectReplies(t, next, `{"return":{"state":4,"power":null,"keepalive":null,"reason":"done","start_time":null,"keepalivehost":null}}`)

	// Anything else that is not a request still gets its exception.
	send("\n" + `x` + "\n\n" + `{"command":"version"}` + "\n")
	expectReplies(t, next, `{"exception":"invalid request: not valid JSON: <any>"}`, `{"return":"1.0.0"}`)
}

// The keyword "client" is dropped from every command's arguments, as the
// original server did, and never shows among a job's kwargs in list_jobs.
func TestClientKeywordIsIgnored(t *testing.T) {
	h := newHarness(t, grid10m, harnessOptions{})
	send, next := h.dialLines(t)
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
		send(tt.line + "\n")
		reply := next()
		for strings.HasPrefix(reply, `{"jobs_changed"`) { // watched since notify_job
			reply = next()
		}
		matchReply(t, reply, tt.want)
	}
}
