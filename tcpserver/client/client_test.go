package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineServer is a scripted v1 peer on loopback: for every request line it
// calls answer, which returns the lines to send back.
type lineServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	answer func(req map[string]any) []string
}

func startLineServer(t *testing.T, answer func(req map[string]any) []string) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln, answer: answer}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				r := bufio.NewReader(nc)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					var req map[string]any
					_ = json.Unmarshal(line, &req)
					for _, out := range s.answer(req) {
						if out == "<close>" {
							return
						}
						if _, err := nc.Write([]byte(out + "\n")); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func dial(t *testing.T, s *lineServer) *Client {
	t.Helper()
	c, err := Dial(context.Background(), s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoArg answers every request with its first argument and a
// notification before the reply.
func echoArg(req map[string]any) []string {
	args, _ := req["args"].([]any)
	b, _ := json.Marshal(args[0])
	return []string{`{"jobs_changed":[` + string(b) + `]}`, `{"return":` + string(b) + `}`}
}

func TestPipelinedCallsAreMatchedInOrder(t *testing.T) {
	s := startLineServer(t, echoArg)
	c := dial(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := g*1000 + i
				raw, err := c.Call(context.Background(), "echo", []any{want}, nil)
				if err != nil {
					errs <- err
					return
				}
				if string(raw) != fmt.Sprint(want) {
					errs <- fmt.Errorf("call %d got reply %s", want, raw)
					return
				}
			}
		}()
	}
	// Notifications must not hold up replies even if nobody reads them
	// until the end.
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 400 {
		select {
		case n := <-c.Notifications():
			if len(n.JobsChanged) != 1 {
				t.Fatalf("notification %+v", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("notification lost")
		}
	}
}

func TestExceptionIsAServerError(t *testing.T) {
	s := startLineServer(t, func(map[string]any) []string { return []string{`{"exception":"no such job"}`} })
	c := dial(t, s)
	_, err := c.Call(context.Background(), "get_job_state", []any{1}, nil)
	var se *ServerError
	if !errors.As(err, &se) || se.Message != "no such job" || se.Command != "get_job_state" {
		t.Fatalf("error %v (%T)", err, err)
	}
}

func TestRequestEncoding(t *testing.T) {
	got := make(chan map[string]any, 1)
	s := startLineServer(t, func(req map[string]any) []string {
		got <- req
		return []string{`{"return":7}`}
	})
	c := dial(t, s)
	id, err := c.CreateJob(context.Background(), []any{2, 1}, map[string]any{"owner": "me", "keepalive": nil})
	if err != nil || id != 7 {
		t.Fatalf("id %d, %v", id, err)
	}
	req := <-got
	if fmt.Sprint(req) != "map[args:[2 1] command:create_job kwargs:map[keepalive:<nil> owner:me]]" {
		t.Fatalf("sent %v", req)
	}
	if _, err := c.Call(context.Background(), "version", nil, nil); err != nil {
		t.Fatal(err)
	}
	if req := <-got; fmt.Sprint(req) != "map[args:[] command:version kwargs:map[]]" {
		t.Fatalf("sent %v", req)
	}
}

func TestTypedReplies(t *testing.T) {
	replies := map[string]string{
		"get_job_state":        `{"state":3,"power":true,"keepalive":60.0,"reason":null,"start_time":1.5,"keepalivehost":"127.0.0.1"}`,
		"get_job_machine_info": `{"width":16,"height":16,"connections":[[[0,0],"10.0.0.1"],[[8,4],"10.0.0.9"]],"machine_name":"m","boards":[[0,0,0],[0,0,1]]}`,
		"where_is":             `{"machine":"m","logical":[0,0,1],"physical":[0,0,1],"chip":[13,5],"board_chip":[5,1],"job_id":1,"job_chip":[13,5]}`,
		"get_board_position":   `null`,
		"list_machines":        `[{"name":"m","tags":["default"],"width":1,"height":2,"dead_boards":[[0,0,1]],"dead_links":[[1,1,1,2]]}]`,
	}
	s := startLineServer(t, func(req map[string]any) []string {
		return []string{`{"return":` + replies[req["command"].(string)] + `}`}
	})
	c := dial(t, s)
	ctx := context.Background()
	st, err := c.GetJobState(ctx, 1)
	if err != nil || st.State != StateReady || !*st.Power || *st.Keepalive != 60 || st.Reason != nil || *st.KeepaliveHost != "127.0.0.1" {
		t.Fatalf("state %+v %v", st, err)
	}
	mi, err := c.GetJobMachineInfo(ctx, 1)
	if err != nil || *mi.Width != 16 || len(mi.Connections) != 2 || mi.Connections[1] != (Connection{8, 4, "10.0.0.9"}) {
		t.Fatalf("machine info %+v %v", mi, err)
	}
	loc, err := c.WhereIs(ctx, map[string]any{"job_id": 1, "chip_x": 13, "chip_y": 5})
	if err != nil || loc == nil || *loc.JobID != 1 || *loc.JobChip != [2]int{13, 5} {
		t.Fatalf("where_is %+v %v", loc, err)
	}
	p, err := c.GetBoardPosition(ctx, "m", 9, 9, 9)
	if err != nil || p != nil {
		t.Fatalf("board position %v %v", p, err)
	}
	ms, err := c.ListMachines(ctx)
	if err != nil || len(ms) != 1 || ms[0].DeadLinks[0] != [4]int{1, 1, 1, 2} {
		t.Fatalf("machines %+v %v", ms, err)
	}
}

func TestConnectionLossFailsPendingCalls(t *testing.T) {
	s := startLineServer(t, func(req map[string]any) []string { return []string{"<close>"} })
	c := dial(t, s)
	_, err := c.Call(context.Background(), "version", nil, nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("error %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if _, err := c.Call(context.Background(), "version", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after the end: %v", err)
	}
	if _, ok := <-c.Notifications(); ok {
		t.Fatal("notification channel not closed")
	}
}

func TestBadServerLineEndsTheConnection(t *testing.T) {
	s := startLineServer(t, func(map[string]any) []string { return []string{`{"what":1}`} })
	c := dial(t, s)
	_, err := c.Call(context.Background(), "version", nil, nil)
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "neither a reply nor a notification") {
		t.Fatalf("error %v", err)
	}
}

// A call abandoned by its context does not shift later replies.
func TestCancelledCallKeepsOrder(t *testing.T) {
	release, gotSlow := make(chan struct{}), make(chan struct{})
	s := startLineServer(t, func(req map[string]any) []string {
		args, _ := req["args"].([]any)
		if args[0] == "slow" {
			close(gotSlow)
			<-release
		}
		b, _ := json.Marshal(args[0])
		return []string{`{"return":` + string(b) + `}`}
	})
	c := dial(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Call(ctx, "echo", []any{"slow"}, nil)
		done <- err
	}()
	<-gotSlow
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	next := make(chan string)
	go func() {
		raw, _ := c.Call(context.Background(), "echo", []any{"fast"}, nil)
		next <- string(raw)
	}()
	close(release)
	if got := <-next; got != `"fast"` {
		t.Fatalf("next call got %s", got)
	}
}
