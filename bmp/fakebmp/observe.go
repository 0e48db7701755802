package fakebmp

import (
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
)

// Exchanges returns a copy of the log of the datagrams received so far
// (the most recent Options.LogLimit), oldest first.
func (s *Server) Exchanges() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Exchange, len(s.log))
	for i, e := range s.log {
		out[i] = e.clone()
	}
	return out
}

// Requests returns the decoded requests for cmd in the log, oldest first.
func (s *Server) Requests(cmd scp.Command) []scp.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []scp.Request
	for _, e := range s.log {
		if e.Decoded && e.Request.Cmd == cmd {
			r := e.Request
			r.Data = append([]byte(nil), r.Data...)
			out = append(out, r)
		}
	}
	return out
}

// Count is the number of datagrams received for cmd, whatever became of
// them (dropped ones included): retransmissions count separately.
func (s *Server) Count(cmd scp.Command) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[cmd]
}

// Received is the number of datagrams received, decodable or not.
func (s *Server) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// Handled is the number of received datagrams the fake has finished with
// (answered, dropped or failed).
func (s *Server) Handled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handled
}

// Power reports whether board is switched on (false for unknown boards).
func (s *Server) Power(board int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[board]
	return b != nil && b.on
}

// PowerOns counts the power-on commands that reached board (a power-on of a
// board that is on counts: it is a reset).
func (s *Server) PowerOns(board int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[board]; b != nil {
		return b.powerOns
	}
	return 0
}

// PowerChanged is when board last changed power state (zero if never).
func (s *Server) PowerChanged(board int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[board]; b != nil {
		return b.changed
	}
	return time.Time{}
}

// Register reads an FPGA register as the hardware holds it (0 if never
// written, for boards that are off and for unknown boards).
func (s *Server) Register(board, fpga int, addr uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[board]
	if b == nil || !b.on {
		return 0
	}
	return b.regs[regKey{fpga, addr}]
}

// OffBoardAccesses counts FPGA reads and writes addressed to boards that
// were off; a correct client never causes one.
func (s *Server) OffBoardAccesses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offAccess
}
