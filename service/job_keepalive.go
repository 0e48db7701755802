package service

// Keepalive clocks (doc.go, "Keepalive registry"): when each live job was
// last touched by a job-specific command, and from which address. They are
// the one piece of job state outside the committed world: touching a job
// must not take the writer (a poll is a keepalive, at tens of thousands a
// second), so each job's clock is an atomic in a registry entry that the
// commit creating the job adds and the commit destroying it removes. The
// address is stored (jobs.keepalive_host) when it changes, which is rare:
// polling writes nothing to disk.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spalloc/spallocd/db"
)

// keepalives is the registry: job id -> clock.
type keepalives struct {
	m sync.Map // int64 -> *keepaliveClock
}

// keepaliveClock is one live job's clock and client address.
type keepaliveClock struct {
	at   atomic.Int64 // Unix nanoseconds of the last touch (atomic: touched without a lock)
	host atomic.Pointer[string]
}

func (k *keepalives) add(id int64, now time.Time, host string) {
	c := &keepaliveClock{}
	c.at.Store(now.UnixNano())
	if host != "" {
		c.host.Store(&host)
	}
	k.m.Store(id, c)
}

func (k *keepalives) remove(id int64) { k.m.Delete(id) }

func (k *keepalives) clock(id int64) *keepaliveClock {
	c, _ := k.m.Load(id)
	kc, _ := c.(*keepaliveClock)
	return kc
}

// host is the job's last client address ("" when unknown).
func (k *keepalives) host(id int64) string {
	if c := k.clock(id); c != nil {
		if h := c.host.Load(); h != nil {
			return *h
		}
	}
	return ""
}

// touchedAt is when the job was last touched (zero when it is not live).
func (k *keepalives) touchedAt(id int64) time.Time {
	if c := k.clock(id); c != nil {
		return time.Unix(0, c.at.Load())
	}
	return time.Time{}
}

// touch counts a job-specific command as a keepalive of job id (if live)
// and records host as its address. A new address is stored at once, in a
// transaction of its own; an unchanged one writes nothing.
func (s *Service) touch(ctx context.Context, id int64, host string) {
	c := s.alive.clock(id)
	if c == nil {
		return
	}
	c.at.Store(s.clock.Now().UnixNano())
	if host == "" {
		return
	}
	if old := c.host.Load(); old != nil && *old == host {
		return
	}
	c.host.Store(&host)
	err := s.write(ctx, func(t *tx) error {
		// The registry's address now, not host: of two racing changes
		// the one stored last is the one kept in memory.
		h := s.alive.host(id)
		if t.job(id) == nil || h == "" {
			return nil
		}
		if err := t.q.SetKeepaliveHost(t.ctx, db.SetKeepaliveHostParams{KeepaliveHost: &h, ID: id}); err != nil {
			return t.dbErr("record the job's client address", err)
		}
		return nil
	})
	if err != nil && KindOf(err) != KindUnavailable {
		s.log.Warn("the job's new client address is not stored; it is kept in memory", "job", id, "host", host, "err", err)
	}
}

// Keepalive is job_keepalive: it counts as a keepalive of a live job and
// records host as its client address. Unknown or destroyed ids are not
// errors (the client calls it from clean-up code).
func (s *Service) Keepalive(ctx context.Context, id int64, host string) error {
	s.touch(ctx, id, host)
	return nil
}

// expired reports whether job j has not been touched for its keepalive.
func (s *Service) expired(j *job, now time.Time) bool {
	if j.keepalive == nil {
		return false
	}
	at := s.alive.touchedAt(j.id)
	return !at.IsZero() && now.Sub(at) > *j.keepalive
}

// expiredJobs lists the live jobs of w whose keepalive ran out.
func (s *Service) expiredJobs(w *world, now time.Time) []int64 {
	var ids []int64
	w.jobs.each(func(id int64, j *job) {
		if s.expired(j, now) {
			ids = append(ids, id)
		}
	})
	return ids
}
