package tcpserver_test

// Replay of the golden transcripts (testdata/transcripts: the real client
// recorded against the original server) against spallocd, following "How a
// replay test should compare" in their README: fresh server per session, the recorded client
// lines sent in file order with the id map applied, replies compared by
// value with the listed allowances, polling runs, notification sets, and
// the peer deviations of sessions.json.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const transcripts = "testdata/transcripts"

type record struct {
	Conn int    `json:"conn"`
	Dir  string `json:"dir"`
	Line string `json:"line"`
}

type sessionMeta struct {
	Name           string      `json:"name"`
	File           string      `json:"file"`
	PeerDeviations []deviation `json:"peer_deviations"`
}

type deviation struct {
	Line          int    `json:"line"`
	ReplyLine     int    `json:"reply_line"`
	Conn          int    `json:"conn"`
	Quirk         string `json:"quirk"`
	AffectedLines []int  `json:"affected_lines"`
}

func loadSessions(t *testing.T) []sessionMeta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcripts, "sessions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Sessions []sessionMeta }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Sessions
}

func loadRecords(t *testing.T, file string) []record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcripts, file))
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s:%d: %v", file, i+1, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestReplayTranscripts(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(transcripts, "scenario.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := loadSessions(t)
	if len(sessions) != 16 {
		t.Fatalf("%d sessions in sessions.json", len(sessions))
	}
	for _, s := range sessions {
		t.Run(s.Name, func(t *testing.T) {
			h := newHarness(t, string(scenario), harnessOptions{bmps: true, realClock: true,
				powerDelay: 200 * time.Millisecond, linkDelay: 20 * time.Millisecond})
			r := newReplayer(t, h, s, loadRecords(t, s.File))
			r.run()
		})
	}
}

// ---- the replayer ----

type replayer struct {
	t     *testing.T
	h     *harness
	meta  sessionMeta
	recs  []record
	conns map[int]*replayConn
	ids   map[int64]int64 // recorded job id -> ours

	replyOf    map[int]int  // request record -> its reply record (absent: none recorded)
	lastOfConn map[int]int  // conn -> index of its last record
	lastReply  map[int]int  // conn -> index of its last reply record
	notesAhead map[int]int  // request record -> recorded notifications on its conn since the previous reply
	runOf      map[int]*run // request record -> its polling run
	skip       map[int]bool // records not to replay (rest of a finished run, replies already read)
	deviations map[int]deviation
}

// run is a polling run: consecutive requests on one connection, all
// get_job_state / job_keepalive / notify_job for the same job.
type run struct {
	requests   []int // record indices
	lastState  int   // record index of the last get_job_state
	finalState float64
	finalPower any
	done       bool
}

func newReplayer(t *testing.T, h *harness, meta sessionMeta, recs []record) *replayer {
	r := &replayer{t: t, h: h, meta: meta, recs: recs, conns: map[int]*replayConn{}, ids: map[int64]int64{},
		replyOf: map[int]int{}, lastOfConn: map[int]int{}, lastReply: map[int]int{}, notesAhead: map[int]int{},
		runOf: map[int]*run{}, skip: map[int]bool{}, deviations: map[int]deviation{}}
	for _, d := range meta.PeerDeviations {
		r.deviations[d.Line] = d
		for _, l := range d.AffectedLines {
			r.deviations[l] = d
		}
	}
	r.index()
	return r
}

func lineKind(line string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(line), &m)
	for _, k := range []string{"return", "exception", "jobs_changed", "machines_changed"} {
		if _, ok := m[k]; ok {
			return k
		}
	}
	return ""
}

func isReply(kind string) bool { return kind == "return" || kind == "exception" }

type request struct {
	Command string                     `json:"command"`
	Args    []json.RawMessage          `json:"args"`
	Kwargs  map[string]json.RawMessage `json:"kwargs"`
}

func parseReq(line string) request {
	var q request
	_ = json.Unmarshal([]byte(line), &q)
	return q
}

// pollJob returns the job a polling-run request is about, or -1.
func pollJob(line string) int64 {
	q := parseReq(line)
	switch q.Command {
	case "get_job_state", "job_keepalive", "notify_job":
	default:
		return -1
	}
	if len(q.Args) != 1 {
		return -1
	}
	id, err := strconv.ParseInt(string(q.Args[0]), 10, 64)
	if err != nil {
		return -1
	}
	return id
}

// index works out replies, polling runs and notification positions.
func (r *replayer) index() {
	pending := map[int][]int{} // conn -> requests waiting for a reply
	notes := map[int]int{}     // conn -> notifications since its last reply
	byConn := map[int][]int{}  // conn -> its requests in order
	for i, rec := range r.recs {
		r.lastOfConn[rec.Conn] = i
		if rec.Dir == "c2s" {
			pending[rec.Conn] = append(pending[rec.Conn], i)
			byConn[rec.Conn] = append(byConn[rec.Conn], i)
			r.notesAhead[i] = notes[rec.Conn]
			continue
		}
		kind := lineKind(rec.Line)
		if !isReply(kind) {
			notes[rec.Conn]++
			continue
		}
		q := pending[rec.Conn]
		if len(q) == 0 {
			r.t.Fatalf("%s:%d: reply without a request", r.meta.File, i+1)
		}
		r.replyOf[q[0]] = i
		pending[rec.Conn] = q[1:]
		r.lastReply[rec.Conn] = i
		notes[rec.Conn] = 0
	}
	for _, reqs := range byConn {
		var cur *run
		var curJob int64 = -1
		for _, i := range reqs {
			job := pollJob(r.recs[i].Line)
			if job < 0 || job != curJob {
				cur, curJob = nil, job
			}
			if job < 0 {
				continue
			}
			if cur == nil {
				cur = &run{lastState: -1}
			}
			cur.requests = append(cur.requests, i)
			r.runOf[i] = cur
			if parseReq(r.recs[i].Line).Command == "get_job_state" {
				cur.lastState = i
			}
		}
	}
	for _, ru := range r.runOf {
		if ru.lastState < 0 {
			continue
		}
		rep, ok := r.replyOf[ru.lastState]
		if !ok {
			continue
		}
		st := r.recordedReturn(rep).(map[string]any)
		ru.finalState = st["state"].(float64)
		ru.finalPower = st["power"]
	}
}

func (r *replayer) recordedReturn(i int) any {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(r.recs[i].Line))
	if err := dec.Decode(&m); err != nil {
		r.t.Fatalf("%s:%d: %v", r.meta.File, i+1, err)
	}
	return m["return"]
}

func (r *replayer) where(i int) string { return fmt.Sprintf("%s:%d", r.meta.File, i+1) }

func (r *replayer) run() {
	defer func() {
		for _, c := range r.conns {
			c.close()
		}
	}()
	for i, rec := range r.recs {
		if r.skip[i] {
			r.maybeClose(i, rec.Conn)
			continue
		}
		if rec.Dir == "c2s" {
			r.request(i)
		} else if kind := lineKind(rec.Line); !isReply(kind) {
			r.conn(rec.Conn).recordNotification(rec.Line, r.afterLastReply(rec.Conn, i))
		}
		r.maybeClose(i, rec.Conn)
	}
}

// afterLastReply reports whether no reply follows record i on conn (a
// notification there is optional: the client may close first).
func (r *replayer) afterLastReply(conn, i int) bool {
	last, ok := r.lastReply[conn]
	return !ok || i > last
}

func (r *replayer) maybeClose(i, conn int) {
	if r.lastOfConn[conn] != i {
		return
	}
	if c, ok := r.conns[conn]; ok && !c.closed {
		c.finish()
	}
}

func (r *replayer) conn(n int) *replayConn {
	if c, ok := r.conns[n]; ok {
		return c
	}
	nc, err := net.Dial("tcp", r.h.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	c := newReplayConn(r, n, nc)
	r.conns[n] = c
	return c
}

// request replays request record i and checks its reply.
func (r *replayer) request(i int) {
	rec := r.recs[i]
	c := r.conn(rec.Conn)
	if c.closed {
		r.t.Fatalf("%s: connection %d was closed", r.where(i), rec.Conn)
	}
	if r.notesAhead[i] > 0 && c.notesSinceReply == 0 {
		c.awaitNotification(5 * time.Second)
	}
	line := r.mapRequest(rec.Line)
	q := parseReq(line)
	c.beforeSend(q)
	got := c.roundTrip(line, r.where(i))
	c.afterReply(q)

	rep, hasReply := r.replyOf[i]
	dev, deviates := r.deviations[i+1]
	if !deviates && hasReply {
		dev, deviates = r.deviations[rep+1]
	}
	switch {
	case deviates && dev.Quirk == "Q1":
		// The original hung up; spallocd answers with an exception and
		// keeps the connection, which the replay then closes itself.
		if lineKind(got) != "exception" {
			r.t.Errorf("%s: %s: want an exception, got %s", r.where(i), q.Command, got)
		}
		c.finish()
		return
	case deviates && dev.Quirk == "Q4" && q.Command == "create_job":
		var reply struct{ Return *int64 }
		if err := json.Unmarshal([]byte(got), &reply); err != nil || reply.Return == nil {
			r.t.Fatalf("%s: create_job with explicit nulls: want a job id, got %s", r.where(i), got)
		}
		r.ids[r.phantomID(rep)] = *reply.Return
		// spallocd creates the job the original refused, so a connection
		// watching all jobs may be told about it.
		for _, oc := range r.conns {
			oc.allowedJobs[strconv.FormatInt(*reply.Return, 10)] = true
		}
		return
	case !hasReply:
		r.t.Fatalf("%s: no recorded reply", r.where(i))
	}
	r.skip[rep] = true

	if ru := r.runOf[i]; ru != nil && q.Command == "get_job_state" {
		got = r.pollState(c, i, rep, ru, line, got)
	}
	if err := r.compare(q, rep, got, dev, deviates); err != nil {
		r.t.Errorf("%s: %s\n  recorded %s\n  got      %s\n  %v", r.where(i), q.Command, r.recs[rep].Line, got, err)
	}
}

// phantomID is the id the original gave the phantom job of quirk Q4: the
// one after the highest recorded id so far.
func (r *replayer) phantomID(int) int64 {
	var max int64
	for rec := range r.ids {
		max = maxInt(max, rec)
	}
	return max + 1
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// pollState applies the polling-run rules to a get_job_state reply: state
// 2 and 3 are interchangeable, the rest of the run is skipped once the
// run's final state is seen, and the last poll is repeated (up to 10 s)
// while the job is still powering where it was recorded ready.
func (r *replayer) pollState(c *replayConn, i, rep int, ru *run, line, got string) string {
	state, power := stateOf(got)
	final := state == ru.finalState && reflect.DeepEqual(power, ru.finalPower)
	if !final && i == ru.lastState && state == 2 && ru.finalState == 3 {
		deadline := time.Now().Add(10 * time.Second)
		for !final && time.Now().Before(deadline) {
			c.awaitNotification(100 * time.Millisecond)
			got = c.roundTrip(line, r.where(i))
			state, power = stateOf(got)
			final = state == ru.finalState && reflect.DeepEqual(power, ru.finalPower)
		}
	}
	if final && !ru.done {
		ru.done = true
		for _, j := range ru.requests {
			if j > i {
				r.skip[j] = true
				if rj, ok := r.replyOf[j]; ok {
					r.skip[rj] = true
				}
			}
		}
	}
	return got
}

func stateOf(line string) (float64, any) {
	var m struct {
		Return map[string]any `json:"return"`
	}
	_ = json.Unmarshal([]byte(line), &m)
	s, _ := m.Return["state"].(float64)
	return s, m.Return["power"]
}

// mapRequest applies the id map to a request line; unchanged lines are
// sent byte for byte.
func (r *replayer) mapRequest(line string) string {
	q := parseReq(line)
	changed := false
	mapRaw := func(v json.RawMessage) json.RawMessage {
		id, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return v
		}
		if to, ok := r.ids[id]; ok && to != id {
			changed = true
			return json.RawMessage(strconv.FormatInt(to, 10))
		}
		return v
	}
	switch q.Command {
	case "job_keepalive", "get_job_state", "get_job_machine_info", "power_on_job_boards",
		"power_off_job_boards", "destroy_job", "notify_job", "no_notify_job":
		if len(q.Args) > 0 {
			q.Args[0] = mapRaw(q.Args[0])
		}
	case "where_is":
		if v, ok := q.Kwargs["job_id"]; ok {
			q.Kwargs["job_id"] = mapRaw(v)
		}
	}
	if !changed {
		return line
	}
	b, _ := json.Marshal(q)
	return string(b)
}

// ---- value comparison ----

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)

func decodeAny(s string) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

// compare checks our reply line against recorded reply record rep.
func (r *replayer) compare(q request, rep int, got string, dev deviation, deviates bool) error {
	cmd := q.Command
	want, err := decodeAny(r.recs[rep].Line)
	if err != nil {
		return err
	}
	have, err := decodeAny(got)
	if err != nil {
		return fmt.Errorf("reply is not a JSON object: %v", err)
	}
	if len(have) != 1 {
		return fmt.Errorf("reply must hold exactly one key")
	}
	if e, ok := want["exception"]; ok {
		_ = e
		msg, ok := have["exception"].(string)
		if !ok || msg == "" {
			return fmt.Errorf("want an exception with a message")
		}
		return nil
	}
	hv, ok := have["return"]
	if !ok {
		return fmt.Errorf("want a return value")
	}
	wv := want["return"]
	switch cmd {
	case "version":
		v, _ := hv.(string)
		m := versionRE.FindStringSubmatch(v)
		if m == nil {
			return fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", v)
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major >= 7 || (major == 0 && minor < 1) {
			return fmt.Errorf("version %q outside [0.1.0, 7.0.0)", v)
		}
		return nil
	case "create_job":
		id, ok1 := hv.(float64)
		rec, ok2 := wv.(float64)
		if !ok1 || !ok2 {
			return fmt.Errorf("want a job id")
		}
		r.ids[int64(rec)] = int64(id)
		return nil
	}
	wn := r.normalize(cmd, wv, true)
	hn := r.normalize(cmd, hv, false)
	if deviates && dev.Quirk == "Q4" && cmd == "list_jobs" {
		return r.compareQ4ListJobs(wn, hn)
	}
	if reflect.DeepEqual(wn, hn) {
		return nil
	}
	// Values that depend on where jobs were placed are checked for
	// consistency instead (README 6).
	var err2 error
	switch cmd {
	case "get_job_machine_info":
		err2 = r.checkMachineInfo(wn, hn)
	case "list_jobs":
		err2 = r.checkListJobs(wn, hn)
	case "where_is":
		err2 = r.checkWhereIs(q, wn, hn)
	default:
		err2 = fmt.Errorf("not an allocation-dependent value")
	}
	if err2 != nil {
		return fmt.Errorf("values differ (%v):\n  recorded (normalized) %s\n  got      (normalized) %s", err2, jsonString(wn), jsonString(hn))
	}
	return nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// normalize rewrites a return value so that what may differ compares
// equal: varying fields become markers, sets are sorted, recorded job ids
// are mapped, and state 2/3 of polled jobs is made one.
func (r *replayer) normalize(cmd string, v any, recorded bool) any {
	switch cmd {
	case "get_job_state":
		return r.normJobState(v)
	case "get_job_machine_info":
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		m["boards"] = sortedSet(m["boards"])
		m["connections"] = sortedSet(m["connections"])
		return m
	case "list_jobs":
		list, _ := v.([]any)
		for _, e := range list {
			m := e.(map[string]any)
			if recorded {
				m["job_id"] = r.mapID(m["job_id"])
			}
			m["start_time"] = markNumber(m["start_time"])
			m["keepalivehost"] = r.markHost(m["keepalivehost"])
			m["boards"] = sortedSet(m["boards"])
			m["state"] = powerOrReady(m["state"])
			if kw, ok := m["kwargs"].(map[string]any); ok {
				kw["tags"] = sortedSet(kw["tags"])
			}
		}
		return list
	case "list_machines":
		list, _ := v.([]any)
		for _, e := range list {
			m := e.(map[string]any)
			for _, k := range []string{"tags", "dead_boards", "dead_links"} {
				m[k] = sortedSet(m[k])
			}
		}
		return list
	case "where_is":
		m, ok := v.(map[string]any)
		if ok && recorded {
			m["job_id"] = r.mapID(m["job_id"])
		}
		return v
	}
	return v
}

func (r *replayer) normJobState(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	m["start_time"] = markNumber(m["start_time"])
	m["keepalivehost"] = r.markHost(m["keepalivehost"])
	m["state"] = powerOrReady(m["state"])
	return m
}

// powerOrReady makes states 2 and 3 equal (README "What varies" 5).
func powerOrReady(v any) any {
	if s, ok := v.(float64); ok && (s == 2 || s == 3) {
		return "power-or-ready"
	}
	return v
}

func markNumber(v any) any {
	if _, ok := v.(float64); ok {
		return "<number>"
	}
	return v
}

// markHost accepts the test client's address for a recorded address.
func (r *replayer) markHost(v any) any {
	if s, ok := v.(string); ok && (s == "127.0.0.1" || s == "::1") {
		return "<client address>"
	}
	return v
}

func (r *replayer) mapID(v any) any {
	if f, ok := v.(float64); ok {
		if to, ok := r.ids[int64(f)]; ok {
			return float64(to)
		}
	}
	return v
}

// sortedSet sorts a list by the JSON of its elements (a multiset compare).
func sortedSet(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := slices.Clone(list)
	sort.Slice(out, func(i, j int) bool { return jsonString(out[i]) < jsonString(out[j]) })
	return out
}

// compareQ4ListJobs: the job the original left queued as a phantom is, in
// spallocd, allocated: state 2 or 3, power true, machine and boards set;
// everything else as recorded.
func (r *replayer) compareQ4ListJobs(want, have any) error {
	wl, _ := want.([]any)
	hl, _ := have.([]any)
	if len(wl) != len(hl) {
		return fmt.Errorf("%d jobs listed, recorded %d", len(hl), len(wl))
	}
	for i := range wl {
		w, h := wl[i].(map[string]any), hl[i].(map[string]any)
		if w["state"] == float64(1) {
			if h["state"] != "power-or-ready" || h["power"] != true || h["allocated_machine_name"] == nil || h["boards"] == nil {
				return fmt.Errorf("job %v: want it allocated (state 2 or 3, power true, machine and boards), got %s", h["job_id"], jsonString(h))
			}
			for _, k := range []string{"state", "power", "allocated_machine_name", "boards"} {
				w[k], h[k] = nil, nil
			}
		}
		if !reflect.DeepEqual(w, h) {
			return fmt.Errorf("job %d differs:\n  recorded %s\n  got      %s", i, jsonString(w), jsonString(h))
		}
	}
	return nil
}

// ---- one replayed connection ----

// replayConn reads its connection's lines in order on one goroutine, so
// that replies and notifications keep their relative order.
type replayConn struct {
	r     *replayer
	n     int
	nc    net.Conn
	lines chan string
	done  chan struct{}

	closed          bool
	notesSinceReply int

	// Subscriptions, for checking that notifications name only what is
	// watched; a subscription counts from its request on, an
	// unsubscription from its reply on.
	allJobs, allMachines bool
	jobs                 map[int64]bool
	machines             map[string]bool

	gotJobs, gotMachines           map[string]bool // what we were told
	requiredJobs, requiredMachines map[string]bool // recorded before the last reply
	allowedJobs, allowedMachines   map[string]bool // recorded at all
}

func newReplayConn(r *replayer, n int, nc net.Conn) *replayConn {
	c := &replayConn{r: r, n: n, nc: nc, lines: make(chan string, 4096), done: make(chan struct{}),
		jobs: map[int64]bool{}, machines: map[string]bool{},
		gotJobs: map[string]bool{}, gotMachines: map[string]bool{},
		requiredJobs: map[string]bool{}, requiredMachines: map[string]bool{},
		allowedJobs: map[string]bool{}, allowedMachines: map[string]bool{}}
	go func() {
		defer close(c.done)
		defer close(c.lines)
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			c.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return c
}

func (c *replayConn) t() *testing.T { return c.r.t }

// roundTrip sends a line and reads until its reply, checking the
// notifications on the way.
func (c *replayConn) roundTrip(line, where string) string {
	if _, err := c.nc.Write([]byte(line + "\n")); err != nil {
		c.t().Fatalf("%s: conn %d: write: %v", where, c.n, err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t().Fatalf("%s: conn %d closed by the server before the reply", where, c.n)
			}
			if isReply(lineKind(l)) {
				c.notesSinceReply = 0
				return l
			}
			c.notification(l, where)
		case <-timeout:
			c.t().Fatalf("%s: conn %d: no reply within 30 s", where, c.n)
		}
	}
}

// awaitNotification reads until a notification arrives or d passes.
func (c *replayConn) awaitNotification(d time.Duration) {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return
			}
			if isReply(lineKind(l)) {
				c.t().Fatalf("conn %d: reply %s without a request", c.n, l)
			}
			c.notification(l, "while waiting")
			return
		case <-timeout:
			return
		}
	}
}

// notification checks one notification line and records what it names.
func (c *replayConn) notification(line, where string) {
	c.notesSinceReply++
	var m map[string][]any
	if err := json.Unmarshal([]byte(line), &m); err != nil || len(m) != 1 {
		c.t().Errorf("%s: conn %d: notification %s must be an object with one list", where, c.n, line)
		return
	}
	for k, list := range m {
		if len(list) == 0 {
			c.t().Errorf("%s: conn %d: empty notification %s", where, c.n, line)
		}
		for _, v := range list {
			switch k {
			case "jobs_changed":
				id, _ := v.(float64)
				if !c.allJobs && !c.jobs[int64(id)] {
					c.t().Errorf("%s: conn %d: told about job %v, which it does not watch", where, c.n, v)
				}
				c.gotJobs[fmt.Sprint(v)] = true
			case "machines_changed":
				name, _ := v.(string)
				if !c.allMachines && !c.machines[name] {
					c.t().Errorf("%s: conn %d: told about machine %q, which it does not watch", where, c.n, name)
				}
				c.gotMachines[name] = true
			default:
				c.t().Errorf("%s: conn %d: unexpected notification %s", where, c.n, line)
			}
		}
	}
}

// recordNotification notes a recorded notification of this connection.
func (c *replayConn) recordNotification(line string, optional bool) {
	var m map[string][]any
	_ = json.Unmarshal([]byte(line), &m)
	for k, list := range m {
		for _, v := range list {
			key := fmt.Sprint(v)
			if k == "jobs_changed" {
				key = fmt.Sprint(c.r.mapID(v))
				c.allowedJobs[key] = true
				if !optional {
					c.requiredJobs[key] = true
				}
			} else {
				c.allowedMachines[key] = true
				if !optional {
					c.requiredMachines[key] = true
				}
			}
		}
	}
}

func (c *replayConn) beforeSend(q request) {
	switch q.Command {
	case "notify_job":
		if id, ok := argID(q); ok {
			c.jobs[id] = true
		} else {
			c.allJobs = true
		}
	case "notify_machine":
		if name, ok := argName(q); ok {
			c.machines[name] = true
		} else {
			c.allMachines = true
		}
	}
}

func (c *replayConn) afterReply(q request) {
	switch q.Command {
	case "no_notify_job":
		if id, ok := argID(q); ok {
			if !c.allJobs {
				delete(c.jobs, id)
			}
		} else {
			c.allJobs, c.jobs = false, map[int64]bool{}
		}
	case "no_notify_machine":
		if name, ok := argName(q); ok {
			if !c.allMachines {
				delete(c.machines, name)
			}
		} else {
			c.allMachines, c.machines = false, map[string]bool{}
		}
	}
}

func argID(q request) (int64, bool) {
	if len(q.Args) == 0 || bytes.Equal(q.Args[0], []byte("null")) {
		return 0, false
	}
	id, err := strconv.ParseInt(string(q.Args[0]), 10, 64)
	return id, err == nil
}

func argName(q request) (string, bool) {
	if len(q.Args) == 0 || bytes.Equal(q.Args[0], []byte("null")) {
		return "", false
	}
	var s string
	if json.Unmarshal(q.Args[0], &s) != nil {
		return "", false
	}
	return s, true
}

// finish checks the connection's notifications and closes it: every id and
// name recorded before its last reply must have been notified (waiting up
// to 5 s for late ones), and nothing that was never recorded.
func (c *replayConn) finish() {
	deadline := time.Now().Add(5 * time.Second)
	for !(subset(c.requiredJobs, c.gotJobs) && subset(c.requiredMachines, c.gotMachines)) && time.Now().Before(deadline) {
		c.awaitNotification(time.Until(deadline))
	}
	if !subset(c.requiredJobs, c.gotJobs) || !subset(c.requiredMachines, c.gotMachines) {
		c.t().Errorf("%s: conn %d: notified jobs %v machines %v, recorded %v %v", c.r.meta.File, c.n,
			keysOf(c.gotJobs), keysOf(c.gotMachines), keysOf(c.requiredJobs), keysOf(c.requiredMachines))
	}
	if !subset(c.gotJobs, c.allowedJobs) || !subset(c.gotMachines, c.allowedMachines) {
		c.t().Errorf("%s: conn %d: notified jobs %v machines %v, but the recording has only %v %v", c.r.meta.File, c.n,
			keysOf(c.gotJobs), keysOf(c.gotMachines), keysOf(c.allowedJobs), keysOf(c.allowedMachines))
	}
	c.close()
}

func (c *replayConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.nc.Close()
	<-c.done
}

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
