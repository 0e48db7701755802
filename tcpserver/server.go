package tcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// Options tune a Server. Zero values mean the defaults, which are those of
// the configuration (config.Default), or no limit where that is said.
type Options struct {
	// MaxLineBytes is the longest request line accepted (without its
	// newline); a longer line disconnects the client.
	MaxLineBytes int
	// MaxOutBuffer is how many bytes of replies and notifications may wait
	// for a client that does not read them, counting every byte not yet
	// written (a single large reply too); past it the client is
	// disconnected.
	MaxOutBuffer int
	// WriteTimeout is the longest one write to a client may block before
	// the client is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// MaxConnections and MaxConnectionsPerAddress bound the connections
	// served at once, in all and from one IP address; a connection over
	// either is refused at once. 0 = no limit.
	MaxConnections           int
	MaxConnectionsPerAddress int
	// Logger receives connection events and disconnections. Default
	// slog.Default().
	Logger *slog.Logger
	// Recorder counts connections and requests (the metrics). Default:
	// nothing is recorded.
	Recorder service.ProtocolRecorder
}

// DefaultWriteTimeout is Options.WriteTimeout when not given.
const DefaultWriteTimeout = 10 * time.Second

func (o Options) withDefaults() Options {
	defaults := config.Default().Server
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = defaults.MaxLineBytes
	}
	if o.MaxOutBuffer <= 0 {
		o.MaxOutBuffer = defaults.MaxOutputBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Recorder == nil {
		o.Recorder = service.NopRecorder{}
	}
	return o
}

// backend is the part of *service.Service the commands call; tests of
// dispatch substitute a fake.
type backend interface {
	CreateJob(ctx context.Context, req service.CreateJobRequest) (int64, error)
	Keepalive(ctx context.Context, id int64, host string) error
	JobState(ctx context.Context, id int64, host string) (service.JobStatus, error)
	JobMachineInfo(ctx context.Context, id int64, host string) (*service.JobMachineInfo, error)
	PowerOnJob(ctx context.Context, id int64, host string) error
	PowerOffJob(ctx context.Context, id int64, host string) error
	DestroyJob(ctx context.Context, id int64, reason *string, host string) error
	ListJobs(ctx context.Context) ([]service.JobSummary, error)
	ListMachines(ctx context.Context) ([]service.MachineSummary, error)
	BoardPosition(ctx context.Context, machine string, b geometry.Board) (*service.Physical, error)
	BoardAtPosition(ctx context.Context, machine string, p service.Physical) (*geometry.Board, error)
	WhereIs(ctx context.Context, q service.WhereIsQuery) (*service.WhereIsResult, error)
	ReportProblem(ctx context.Context, r service.ProblemReport) error
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("tcpserver: server closed")

// Server serves the v1 protocol on any number of listeners.
type Server struct {
	svc       backend
	subscribe func() changeFeed // nil: no change feed (no notifications)
	opts      Options
	log       *slog.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{} // keyed by pointer: a listener value may not be hashable
	conns     map[*conn]struct{}
	perHost   map[string]int // connections by remote host
	refusals  refusalLog
	heavy     chan struct{} // slots for costly replies (list_jobs): GOMAXPROCS-1, at least 1
	closing   bool
	wg        sync.WaitGroup // connection goroutines
	hubCancel context.CancelFunc
	hubDone   chan struct{}
	done      chan struct{} // closed when shutting down

	// round is held by the hub while it delivers one round of changes to
	// every connection, and by (no_)notify commands while they change a
	// connection's subscriptions: once any client has been told of a
	// round, a client that subscribes is not told of that round too.
	round sync.Mutex
}

// New returns a server for svc. Nothing runs until Serve.
func New(svc *service.Service, opts Options) *Server {
	s := newServer(svc, opts)
	s.subscribe = func() changeFeed {
		sub := svc.Subscribe()
		if sub == nil {
			return nil
		}
		return subscriptionFeed{sub}
	}
	return s
}

func newServer(b backend, opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{
		svc:       b,
		opts:      opts,
		log:       opts.Logger,
		listeners: map[*net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		perHost:   map[string]int{},
		heavy:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1)),
		done:      make(chan struct{}),
	}
}

// Addr returns the address of a listener being served, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		return (*ln).Addr()
	}
	return nil
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or until ctx is done: then the whole server stops at
// once, closing every connection, and Serve returns ctx.Err() when all of
// them are gone. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	key := &ln
	if !s.addListener(key) {
		ln.Close()
		return ErrServerClosed
	}
	s.startHub()
	stop := context.AfterFunc(ctx, s.closeNow)
	defer stop()

	delay := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				s.stopHub()
				return ctx.Err()
			}
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off and retry.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("tcpserver: accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.done:
				}
				continue
			}
			s.closeListener(key)
			return err
		}
		delay = 0
		if !s.startConn(ctx, nc) {
			nc.Close()
		}
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Shutdown stops accepting, stops reading new requests, lets the requests
// in progress finish and their replies go out, then closes every
// connection. If ctx ends first, it closes the rest at once and returns
// ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.beginClose()
	for _, c := range conns {
		c.stopReading()
	}
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range s.snapshot() {
			c.close()
		}
		<-finished
	}
	s.stopHub()
	return err
}

// closeNow stops everything at once (Serve's ctx was cancelled).
func (s *Server) closeNow() {
	for _, c := range s.beginClose() {
		c.close()
	}
}

// beginClose marks the server closing, closes its listeners and returns
// its connections.
func (s *Server) beginClose() []*conn {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for ln := range s.listeners {
		(*ln).Close()
		delete(s.listeners, ln)
	}
	s.mu.Unlock()
	return s.snapshot()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) addListener(ln *net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) closeListener(ln *net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	(*ln).Close()
	delete(s.listeners, ln)
}

// snapshot returns the current connections.
func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// startConn registers and starts a connection; false when closing or over
// a connection limit (then it has told the client why).
func (s *Server) startConn(ctx context.Context, nc net.Conn) bool {
	c, cctx := newConn(ctx, s, nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.cancel()
		return false
	}
	if refusal := s.overLimitLocked(c.host); refusal != "" {
		s.mu.Unlock()
		c.cancel()
		s.refuse(nc, c.host, refusal)
		return false
	}
	s.conns[c] = struct{}{}
	s.perHost[c.host]++
	s.wg.Add(2)
	s.mu.Unlock()
	s.opts.Recorder.ProtocolConnection(+1)
	go c.readLoop(cctx)
	go c.writeLoop()
	return true
}

// overLimitLocked says why a new connection from host is over a limit, or
// "".
func (s *Server) overLimitLocked(host string) string {
	if max := s.opts.MaxConnections; max > 0 && len(s.conns) >= max {
		return fmt.Sprintf("the server is serving its maximum of %d connections; try again later", max)
	}
	if max := s.opts.MaxConnectionsPerAddress; max > 0 && s.perHost[host] >= max {
		return fmt.Sprintf("%s already has the maximum of %d connections to this server; close some first", host, max)
	}
	return ""
}

// refuse tells a connection over a limit why in an exception line (the
// reply its first request will read; a new socket's buffer always has room
// for it), closes it and logs it, rate-limited.
func (s *Server) refuse(nc net.Conn, host, why string) {
	_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	_, _ = nc.Write(appendException(nil, why))
	nc.Close()
	if n, ok := s.refusals.note(time.Now()); ok {
		s.log.Warn("tcpserver: connection refused: over the connection limit",
			"remote", host, "reason", why, "refused_since_last_log", n)
	}
}

// refusalLog rate-limits the log of refused connections: one line, then
// at most one per refusalLogEvery with the count since the last.
type refusalLog struct {
	mu     sync.Mutex
	last   time.Time
	counts int
}

const refusalLogEvery = 10 * time.Second

// note counts a refusal and says whether to log it now, with how many
// refusals that line covers.
func (r *refusalLog) note(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts++
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogEvery {
		return 0, false
	}
	n := r.counts
	r.last, r.counts = now, 0
	return n, true
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perHost[c.host]--; s.perHost[c.host] <= 0 {
		delete(s.perHost, c.host)
	}
	s.mu.Unlock()
	s.opts.Recorder.ProtocolConnection(-1)
}

// ---- change feed fan-out ----

// startHub subscribes to the change feed once per server.
func (s *Server) startHub() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hubDone != nil || s.subscribe == nil {
		return
	}
	feed := s.subscribe()
	if feed == nil {
		s.log.Warn("tcpserver: the service offers no change feed; notifications are disabled")
		s.subscribe = nil
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.hubCancel = cancel
	s.hubDone = make(chan struct{})
	go s.runHub(ctx, feed, s.hubDone)
}

func (s *Server) stopHub() {
	s.mu.Lock()
	cancel, done := s.hubCancel, s.hubDone
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// runHub delivers each round of changes to the connections that watch
// them. It never blocks on a connection: delivery only appends to the
// connection's outgoing buffer.
func (s *Server) runHub(ctx context.Context, feed changeFeed, done chan struct{}) {
	defer close(done)
	defer feed.Close()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-feed.Ready():
		}
		ch := normalize(feed.Take())
		if len(ch.Jobs) == 0 && len(ch.Machines) == 0 {
			continue
		}
		s.deliver(&ch, &buf)
	}
}

// deliver sends one round to every connection that watches part of it.
// Holding round, it cannot interleave with a subscription change: without
// it, a client told of the round could subscribe and then the subscriber
// be told of the old round as if it had just happened.
func (s *Server) deliver(ch *service.Change, buf *[]byte) {
	s.round.Lock()
	defer s.round.Unlock()
	for _, c := range s.snapshot() {
		c.watches.deliver(ch, func(jobs []int64, machines []string) {
			*buf = notificationLines((*buf)[:0], jobs, machines)
			c.send(*buf)
		})
	}
}

// ---- helpers shared by conn ----

// remoteHost is the host part of a connection's remote address, recorded
// by the service as a job's keepalivehost.
func remoteHost(nc net.Conn) string {
	a := nc.RemoteAddr()
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// quietErr reports errors that end a connection normally.
func quietErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
