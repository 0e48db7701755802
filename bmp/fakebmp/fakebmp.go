// Package fakebmp is a fake SpiNN-5 Board Management Processor: a real UDP
// server that speaks the SCP subset spalloc uses (sver, power, FPGA register
// read and write, reset) for one frame of boards, as docs/bmp.md ("The fake
// BMP") describes. Tests and the demo configuration run it on loopback.
//
// It owns its socket, its serving goroutine and the simulated state of its
// boards (power, FPGA registers), plus fault injection (scripted actions,
// rules, global switches) and observation (a log of exchanges, counters).
// It must not import the server's service, database or transports: it only
// knows the wire format from package scp.
package fakebmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
)

// Options configures a fake frame. The zero value serves boards 0..23 on a
// free loopback port with firmware 2.1.2 and no delays.
type Options struct {
	// Listen is the UDP address to bind; default "127.0.0.1:0".
	Listen string
	// Boards are the board ids (0..31) present in the frame; default 0..23.
	// Requests addressed to other boards get RC_ROUTE. Board 0 is always
	// present, listed or not: it carries the BMP the host talks to, which
	// receives every power command of the frame, so
	// a frame of which a machine uses, say, only board 23 still answers.
	Boards []int
	// PowerDelay is waited before replying to a power-on (state changes at
	// once), so that a "power" state lasts long enough to be seen.
	PowerDelay time.Duration
	// LinkDelay is waited before replying to an FPGA register write.
	LinkDelay time.Duration
	// Version is the firmware version sver reports; default "2.1.2". A
	// major version below 2 makes clients skip FPGA checks and link writes.
	Version string
	// FrameID is the backplane frame id sver reports.
	FrameID uint8
	// BuildDate is the build time sver reports, Unix seconds.
	BuildDate uint32
	// LogLimit bounds the exchange log to the most recent entries, so a
	// long-running fake does not grow without end; default 10000.
	// Counters are never trimmed.
	LogLimit int
	// FlagBits are OR-ed into every FPGA's FLAG register after power-on,
	// above the two id bits (e.g. 0x3C); clients must only look at bits 1..0.
	FlagBits uint32
}

// DefaultLogLimit is how many exchanges a fake remembers unless told otherwise.
const DefaultLogLimit = 10000

// DefaultVersion is the firmware version a fake reports unless told otherwise.
const DefaultVersion = "2.1.2"

// DefaultBoards lists the 24 boards of a full frame.
func DefaultBoards() []int {
	b := make([]int, 24)
	for i := range b {
		b[i] = i
	}
	return b
}

type regKey struct {
	fpga int
	addr uint32
}

type flagOverride struct {
	value uint32
	count int // remaining power-ons
}

type board struct {
	on       bool
	changed  time.Time
	powerOns int
	regs     map[regKey]uint32
	flags    [scp.NumFPGAs]flagOverride
}

// Server is one fake frame BMP. Create it with New, then Start it; Close
// stops it. All methods are safe for concurrent use.
type Server struct {
	opts    Options
	version scp.VersionInfo // template; BoardID/CANID set per reply

	conn *net.UDPConn
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu          sync.Mutex
	boards      map[int]*board
	script      []Action
	rules       []*Rule
	unreachable bool
	latency     time.Duration
	duplicate   bool
	log         []*Exchange
	received    int // datagrams received
	handled     int // datagrams finished with
	counts      map[scp.Command]int
	offAccess   int
	changed     chan struct{} // closed and replaced after every event
}

// New checks opts and prepares a fake; it does not bind yet.
func New(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Boards == nil {
		opts.Boards = DefaultBoards()
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.LogLimit == 0 {
		opts.LogLimit = DefaultLogLimit
	}
	if opts.LogLimit < 0 {
		return nil, fmt.Errorf("fakebmp: LogLimit %d must not be negative", opts.LogLimit)
	}
	if opts.PowerDelay < 0 || opts.LinkDelay < 0 {
		return nil, fmt.Errorf("fakebmp: delays must not be negative (power %v, link %v)", opts.PowerDelay, opts.LinkDelay)
	}
	major, minor, patch, labels, err := scp.ParseVersionString(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("fakebmp: option Version: %w", err)
	}
	s := &Server{
		opts: opts,
		version: scp.VersionInfo{
			FrameID: opts.FrameID, BufferSize: scp.MaxData, BuildDate: opts.BuildDate,
			Name: "BC&MP", Hardware: "Spin5-BMP", Major: major, Minor: minor, Patch: patch, Labels: labels,
		},
		boards:  make(map[int]*board),
		counts:  make(map[scp.Command]int),
		changed: make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if len(opts.Boards) == 0 {
		return nil, errors.New("fakebmp: no boards")
	}
	for _, b := range opts.Boards {
		if err := checkBoard(b); err != nil {
			return nil, err
		}
		if s.boards[b] != nil {
			return nil, fmt.Errorf("fakebmp: board %d listed twice", b)
		}
		s.boards[b] = newBoard()
	}
	s.addBoardsLocked([]int{0})
	return s, nil
}

func newBoard() *board { return &board{regs: make(map[regKey]uint32)} }

func checkBoard(id int) error {
	if id < 0 || id > scp.MaxBoard {
		return fmt.Errorf("fakebmp: board %d out of range 0..%d", id, scp.MaxBoard)
	}
	return nil
}

// AddBoards makes the frame hold these boards too, e.g. after a
// reconfiguration placed more boards in it. Boards it already holds keep
// their state (power, registers); none is removed, since a client may
// still be switching a board off that left the configuration.
func (s *Server) AddBoards(ids []int) error {
	for _, id := range ids {
		if err := checkBoard(id); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addBoardsLocked(ids)
	return nil
}

// addBoardsLocked adds the boards not yet held; mu must be held (or s not
// yet shared).
func (s *Server) addBoardsLocked(ids []int) {
	for _, id := range ids {
		if s.boards[id] == nil {
			s.boards[id] = newBoard()
		}
	}
}

// Start binds the socket and starts serving in a goroutine owned by s.
func (s *Server) Start() error {
	if s.conn != nil {
		return errors.New("fakebmp: already started")
	}
	addr, err := net.ResolveUDPAddr("udp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("fakebmp: listen address %q: %w", s.opts.Listen, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("fakebmp: %w", err)
	}
	s.conn = conn
	go s.serve()
	return nil
}

// Addr is the bound address ("127.0.0.1:40123"), or "" before Start.
func (s *Server) Addr() string {
	if s.conn == nil {
		return ""
	}
	return s.conn.LocalAddr().String()
}

// Close stops serving and waits for the serving goroutine to end. Delays in
// progress are cut short; their replies are not sent.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		if s.conn == nil {
			close(s.done)
			return
		}
		err = s.conn.Close()
		<-s.done
	})
	return err
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // transient socket errors must not stop the frame
		}
		s.handle(slices.Clone(buf[:n]), from)
	}
}

// sleep waits d unless the server is closed first; it reports whether the
// full time passed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

// ParseBoards reads a board list such as "0-23" or "0,2,5-7".
func ParseBoards(spec string) ([]int, error) {
	var boards []int
	seen := make(map[int]bool)
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("boards %q: %q is not a board number or range", spec, part)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("boards %q: %q is not a board number or range", spec, part)
			}
		}
		if first < 0 || last > scp.MaxBoard || first > last {
			return nil, fmt.Errorf("boards %q: %q is outside 0..%d or reversed", spec, part, scp.MaxBoard)
		}
		for b := first; b <= last; b++ {
			if !seen[b] {
				seen[b] = true
				boards = append(boards, b)
			}
		}
	}
	sort.Ints(boards)
	return boards, nil
}

// Await blocks until cond returns true, re-evaluating it after every
// datagram the fake receives or answers, or until ctx ends. cond may call
// the Server's observation methods.
func (s *Server) Await(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakebmp: condition not met: %w", ctx.Err())
		}
	}
}

// notify wakes Await callers; mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}
