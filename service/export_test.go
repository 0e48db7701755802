package service

// Hooks for the external tests of this package.

import "context"

// HoldWriter takes the writer lock as a long transaction would, so that a
// test can make calls queue up behind it; release lets them run.
func (s *Service) HoldWriter() (release func()) {
	s.wmu.Lock()
	return s.wmu.Unlock
}

// QueuedWrites is the number of calls waiting for the writer.
func (s *Service) QueuedWrites() int {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	return len(s.queued)
}

// WriteCall runs fn as a write call that changes nothing itself (fn may
// panic, to stand for a bug).
func (s *Service) WriteCall(ctx context.Context, fn func()) error {
	return s.write(ctx, func(*tx) error { fn(); return nil })
}
