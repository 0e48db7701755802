//go:build linux

package main

// Workloads: what one connection sends and how it reacts to each line the
// server sends back. A session is driven by its event loop only, so it
// needs no locking; it appends the requests it wants sent to out.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// session is one connection's workload.
type session interface {
	// begin appends the first requests.
	begin(now time.Duration, out []byte) []byte
	// line handles one line from the server (without its newline) and
	// appends any requests to send next. An error ends the run.
	line(l []byte, now time.Duration, out []byte) ([]byte, error)
	// stop asks the session to send nothing new (cleanup aside).
	stop()
	// done reports that the session has nothing outstanding and will
	// send nothing more.
	done() bool
}

// ---- reading replies ----

type lineKind int

const (
	lineReturn lineKind = iota
	lineException
	lineNotification
	lineOther
)

// classify looks at the first key of a line; the server writes it
// first, so no full JSON parse is needed.
func classify(l []byte) (lineKind, []byte) {
	i := skipWS(l, 0)
	if i >= len(l) || l[i] != '{' {
		return lineOther, nil
	}
	i = skipWS(l, i+1)
	rest := l[i:]
	for _, k := range []struct {
		key  string
		kind lineKind
	}{{`"return"`, lineReturn}, {`"exception"`, lineException},
		{`"jobs_changed"`, lineNotification}, {`"machines_changed"`, lineNotification}} {
		if bytes.HasPrefix(rest, []byte(k.key)) {
			j := skipWS(rest, len(k.key))
			if j < len(rest) && rest[j] == ':' {
				return k.kind, rest[skipWS(rest, j+1):]
			}
		}
	}
	return lineOther, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// leadingInt parses the integer at the start of v.
func leadingInt(v []byte) (int64, bool) {
	j := 0
	if j < len(v) && v[j] == '-' {
		j++
	}
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(v[:j]), 10, 64)
	return n, err == nil
}

// fieldInt finds "name": N in a flat object.
func fieldInt(v []byte, name string) (int64, bool) {
	key := []byte(`"` + name + `"`)
	i := bytes.Index(v, key)
	if i < 0 {
		return 0, false
	}
	j := skipWS(v, i+len(key))
	if j >= len(v) || v[j] != ':' {
		return 0, false
	}
	return leadingInt(v[skipWS(v, j+1):])
}

// mentions reports whether a jobs_changed line lists id.
func mentions(l []byte, id int64) bool {
	if !bytes.Contains(l, []byte(`"jobs_changed"`)) {
		return false
	}
	i := bytes.IndexByte(l, '[')
	if i < 0 {
		return false
	}
	for _, f := range bytes.FieldsFunc(l[i+1:], func(r rune) bool { return r == ',' || r == ']' || r == ' ' || r == '}' }) {
		if n, ok := leadingInt(f); ok && n == id {
			return true
		}
	}
	return false
}

// ---- outstanding requests ----

type sent struct {
	cmd cmdKind
	t0  time.Duration
}

// ring holds outstanding requests in order: replies come in request order.
type ring struct {
	buf  []sent
	head int
	n    int
}

func (r *ring) push(s sent) {
	if r.n == len(r.buf) {
		grown := make([]sent, max(2*len(r.buf), 4))
		for i := range r.n {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = s
	r.n++
}

func (r *ring) pop() (sent, bool) {
	if r.n == 0 {
		return sent{}, false
	}
	s := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return s, true
}

var errUnexpectedReply = errors.New("a reply arrived with no request outstanding")

// reply pops the request a return/exception line answers and records its
// latency; it reports the kind of line and its value.
func reply(rec *recorder, out *ring, l []byte, now time.Duration) (sent, lineKind, []byte, error) {
	kind, val := classify(l)
	switch kind {
	case lineNotification:
		return sent{}, kind, val, nil
	case lineOther:
		return sent{}, kind, nil, fmt.Errorf("unexpected line from the server: %.200q", l)
	}
	s, ok := out.pop()
	if !ok {
		return s, kind, nil, errUnexpectedReply
	}
	rec.done(s.cmd, s.t0, now, kind == lineException)
	if kind == lineException {
		rec.lastErr = fmt.Sprintf("%s: %.200s", s.cmd, val)
	}
	return s, kind, val, nil
}

// ---- request lines ----

func jobRequest(command string, id int64) []byte {
	return fmt.Appendf(nil, `{"command": "%s", "args": [%d], "kwargs": {}}`+"\n", command, id)
}

func appendJobRequest(out []byte, command string, id int64) []byte {
	out = append(out, `{"command": "`...)
	out = append(out, command...)
	out = append(out, `", "args": [`...)
	out = strconv.AppendInt(out, id, 10)
	return append(out, "], \"kwargs\": {}}\n"...)
}

// createLine asks for one board that never times out.
func createLine(owner, machine string) []byte {
	m := "null"
	if machine != "" {
		m = strconv.Quote(machine)
	}
	return fmt.Appendf(nil, `{"command": "create_job", "args": [1], "kwargs": {"owner": %s, "keepalive": null, "machine": %s}}`+"\n",
		strconv.Quote(owner), m)
}

func appendDestroy(out []byte, id int64, reason string) []byte {
	out = append(out, `{"command": "destroy_job", "args": [`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `, `...)
	out = strconv.AppendQuote(out, reason)
	return append(out, "], \"kwargs\": {}}\n"...)
}

// ---- poll: a status-polling client ----

// pollSession keeps depth requests outstanding, cycling through lines.
type pollSession struct {
	rec     *recorder
	lines   [][]byte
	cmds    []cmdKind
	depth   int
	next    int
	out     ring
	stopped bool
	// completed counts the replies to requests sent in the measuring
	// window.
	completed int64
}

func (s *pollSession) send(out []byte, now time.Duration) []byte {
	i := s.next % len(s.lines)
	s.next++
	s.out.push(sent{cmd: s.cmds[i], t0: now})
	return append(out, s.lines[i]...)
}

func (s *pollSession) begin(now time.Duration, out []byte) []byte {
	for range s.depth {
		out = s.send(out, now)
	}
	return out
}

func (s *pollSession) line(l []byte, now time.Duration, out []byte) ([]byte, error) {
	req, kind, _, err := reply(s.rec, &s.out, l, now)
	if err != nil || kind == lineNotification {
		return out, err
	}
	if s.rec.inWindow(req.t0) {
		s.completed++
	}
	if !s.stopped {
		out = s.send(out, now)
	}
	return out, nil
}

func (s *pollSession) stop()      { s.stopped = true }
func (s *pollSession) done() bool { return s.stopped && s.out.n == 0 }

// ---- churn: create one board, wait until ready, destroy ----

type churnState int

const (
	churnCreating   churnState = iota // create_job sent
	churnNotifying                    // notify_job sent
	churnPolling                      // get_job_state sent
	churnWaiting                      // not ready yet: waiting for a notification
	churnDestroying                   // destroy_job sent
	churnIdle                         // stopped
)

// churnSession runs job cycles the way the spalloc client's Job does:
// create_job, notify_job(id), then get_job_state after each notification
// until the job is ready, then destroy_job.
type churnSession struct {
	rec      *recorder
	create   []byte
	state    churnState
	id       int64
	start    time.Duration // when this cycle's create_job was sent
	notified bool          // a notification for id arrived since the last get_job_state
	out      ring
	stopped  bool
	// limit > 0 ends the session after that many cycles (-op memory).
	limit, cycles int
	// waitReady false destroys the job as soon as it has an id.
	waitReady bool
}

func (s *churnSession) begin(now time.Duration, out []byte) []byte {
	return s.startCycle(now, out)
}

func (s *churnSession) startCycle(now time.Duration, out []byte) []byte {
	if s.stopped || (s.limit > 0 && s.cycles >= s.limit) {
		s.state = churnIdle
		return out
	}
	s.state, s.start, s.id, s.notified = churnCreating, now, 0, false
	s.out.push(sent{cmd: cmdCreateJob, t0: now})
	return append(out, s.create...)
}

func (s *churnSession) send(out []byte, now time.Duration, k cmdKind, st churnState) []byte {
	s.state = st
	s.out.push(sent{cmd: k, t0: now})
	switch k {
	case cmdNotifyJob:
		return appendJobRequest(out, "notify_job", s.id)
	case cmdGetJobState:
		s.notified = false
		return appendJobRequest(out, "get_job_state", s.id)
	default:
		return appendDestroy(out, s.id, "spalloc-bench churn")
	}
}

func (s *churnSession) line(l []byte, now time.Duration, out []byte) ([]byte, error) {
	_, kind, val, err := reply(s.rec, &s.out, l, now)
	if err != nil {
		return out, err
	}
	if kind == lineNotification {
		if s.id != 0 && mentions(l, s.id) {
			s.notified = true
			if s.state == churnWaiting {
				return s.send(out, now, cmdGetJobState, churnPolling), nil
			}
		}
		return out, nil
	}
	if kind == lineException {
		if s.state == churnCreating {
			return out, fmt.Errorf("create_job failed: %s", val)
		}
		// Give this job up and start again.
		if s.id != 0 && s.state != churnDestroying {
			return s.send(out, now, cmdDestroyJob, churnDestroying), nil
		}
		return s.startCycle(now, out), nil
	}
	switch s.state {
	case churnCreating:
		id, ok := leadingInt(val)
		if !ok {
			return out, fmt.Errorf("create_job returned %.100q, not a job id", val)
		}
		s.id = id
		if !s.waitReady {
			return s.send(out, now, cmdDestroyJob, churnDestroying), nil
		}
		return s.send(out, now, cmdNotifyJob, churnNotifying), nil
	case churnNotifying:
		return s.send(out, now, cmdGetJobState, churnPolling), nil
	case churnPolling:
		st, ok := fieldInt(val, "state")
		switch {
		case !ok:
			return out, fmt.Errorf("get_job_state returned %.200q", val)
		case st == 3: // ready
			return s.send(out, now, cmdDestroyJob, churnDestroying), nil
		case st == 4 || st == 0: // destroyed or unknown
			s.rec.lastErr = fmt.Sprintf("job %d ended before it was ready: %.200s", s.id, val)
			if s.rec.inWindow(s.start) {
				s.rec.errors[cmdCycle]++
			}
			return s.startCycle(now, out), nil
		case s.notified:
			return s.send(out, now, cmdGetJobState, churnPolling), nil
		default:
			s.state = churnWaiting
			return out, nil
		}
	case churnDestroying:
		s.cycles++
		s.rec.done(cmdCycle, s.start, now, false)
		return s.startCycle(now, out), nil
	}
	return out, fmt.Errorf("reply %.100q in churn state %d", l, s.state)
}

// stop lets the cycle in progress finish (its job is destroyed).
func (s *churnSession) stop() { s.stopped = true }

func (s *churnSession) done() bool { return s.state == churnIdle && s.out.n == 0 }

// ---- mixed: the traffic of a busy facility ----

// mixedSession owns one long-lived job and, one request at a time, picks
// what a facility's clients do most: poll and keep alive their job, look
// up where a chip is, list jobs and machines, and start and end short
// jobs (create_job answered, then destroy_job of that job).
type mixedSession struct {
	rec      *recorder
	rng      uint64
	create   []byte
	own      int64 // the session's job; 0 until created
	lines    [3][]byte
	extra    int64 // a short job to destroy next
	creating int   // 1: own job, 2: a short job
	out      ring
	stopped  bool
	cleaned  bool
}

// mixedWeights are per cent of requests, in the order of pick.
var mixedWeights = []struct {
	cmd    cmdKind
	weight uint64
}{
	{cmdGetJobState, 55}, {cmdKeepalive, 20}, {cmdWhereIs, 8},
	{cmdListMachines, 5}, {cmdListJobs, 5}, {cmdCreateJob, 7},
}

var (
	listJobsLine     = []byte(`{"command": "list_jobs", "args": [], "kwargs": {}}` + "\n")
	listMachinesLine = []byte(`{"command": "list_machines", "args": [], "kwargs": {}}` + "\n")
)

func (s *mixedSession) rand() uint64 {
	// xorshift64*: cheap, and each session has its own stream.
	s.rng ^= s.rng >> 12
	s.rng ^= s.rng << 25
	s.rng ^= s.rng >> 27
	return s.rng * 2685821657736338717
}

func (s *mixedSession) push(out []byte, now time.Duration, k cmdKind, line []byte) []byte {
	s.out.push(sent{cmd: k, t0: now})
	return append(out, line...)
}

func (s *mixedSession) begin(now time.Duration, out []byte) []byte {
	s.creating = 1
	return s.push(out, now, cmdCreateJob, s.create)
}

// next appends the request after a reply.
func (s *mixedSession) next(out []byte, now time.Duration) []byte {
	if s.extra != 0 {
		id := s.extra
		s.extra = 0
		s.out.push(sent{cmd: cmdDestroyJob, t0: now})
		return appendDestroy(out, id, "spalloc-bench mixed")
	}
	if s.stopped {
		if s.own != 0 && !s.cleaned {
			s.cleaned = true
			s.out.push(sent{cmd: cmdDestroyJob, t0: now})
			return appendDestroy(out, s.own, "spalloc-bench finished")
		}
		return out
	}
	r := s.rand() % 100
	pick := cmdCreateJob
	for _, w := range mixedWeights {
		if r < w.weight {
			pick = w.cmd
			break
		}
		r -= w.weight
	}
	switch pick {
	case cmdGetJobState:
		return s.push(out, now, pick, s.lines[0])
	case cmdKeepalive:
		return s.push(out, now, pick, s.lines[1])
	case cmdWhereIs:
		return s.push(out, now, pick, s.lines[2])
	case cmdListMachines:
		return s.push(out, now, pick, listMachinesLine)
	case cmdListJobs:
		return s.push(out, now, pick, listJobsLine)
	default:
		s.creating = 2
		return s.push(out, now, cmdCreateJob, s.create)
	}
}

func (s *mixedSession) line(l []byte, now time.Duration, out []byte) ([]byte, error) {
	sentReq, kind, val, err := reply(s.rec, &s.out, l, now)
	if err != nil || kind == lineNotification {
		return out, err
	}
	if sentReq.cmd == cmdCreateJob {
		creating := s.creating
		s.creating = 0
		if kind == lineException {
			return out, fmt.Errorf("create_job failed: %s", val)
		}
		id, ok := leadingInt(val)
		if !ok {
			return out, fmt.Errorf("create_job returned %.100q, not a job id", val)
		}
		if creating == 1 {
			s.own = id
			s.lines = [3][]byte{
				jobRequest("get_job_state", id),
				jobRequest("job_keepalive", id),
				fmt.Appendf(nil, `{"command": "where_is", "args": [], "kwargs": {"job_id": %d, "chip_x": 0, "chip_y": 0}}`+"\n", id),
			}
		} else {
			s.extra = id
		}
	}
	return s.next(out, now), nil
}

func (s *mixedSession) stop() { s.stopped = true }

func (s *mixedSession) done() bool {
	return s.stopped && s.out.n == 0 && s.extra == 0 && (s.own == 0 || s.cleaned)
}
