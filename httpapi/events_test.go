package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name, data string
}

// readEvent reads the next event, skipping comments and retry lines.
func readEvent(t *testing.T, rd *bufio.Reader) (sseEvent, error) {
	t.Helper()
	var ev sseEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.name != "":
			return ev, nil
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// openStream opens the event stream; the context bounds the whole test so
// that a missing event fails instead of hanging.
func openStream(t *testing.T, e *env) (*bufio.Reader, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/events", nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d type %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
}

// TestEventStream: the stream says hello, then reports the jobs and
// machines each change touched.
func TestEventStream(t *testing.T) {
	e := newEnv(t)
	rd, stop := openStream(t, e)
	defer stop()
	ev, err := readEvent(t, rd)
	if err != nil || ev.name != "hello" || !strings.Contains(ev.data, "9.8.7") {
		t.Fatalf("first event %+v %v, want hello with the version", ev, err)
	}
	id := e.createJob("alice", oneBoard(), "spin")
	var jobs []int64
	var machines []string
	for !slices.Contains(jobs, id) || !slices.Contains(machines, "spin") {
		ev, err := readEvent(t, rd)
		if err != nil {
			t.Fatalf("stream ended before job %d and machine spin were reported (got %v %v): %v", id, jobs, machines, err)
		}
		if ev.name != "change" {
			continue
		}
		var c changeEventJSON
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("change data %q: %v", ev.data, err)
		}
		jobs, machines = append(jobs, c.Jobs...), append(machines, c.Machines...)
	}
}

// TestEventStreamEndsOnDone: closing Options.Done ends open streams, so a
// server shutdown does not wait for dashboards.
func TestEventStreamEndsOnDone(t *testing.T) {
	done := make(chan struct{})
	e := newEnv(t, func(o *Options) { o.Done = done })
	rd, stop := openStream(t, e)
	defer stop()
	if ev, err := readEvent(t, rd); err != nil || ev.name != "hello" {
		t.Fatalf("first event %+v %v, want hello", ev, err)
	}
	close(done)
	if _, err := io.ReadAll(rd); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
}
