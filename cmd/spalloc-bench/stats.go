//go:build linux

package main

// Latency recording: a log-linear histogram per command (constant memory,
// under 1% error), kept per event loop and merged at the end.

import (
	"math/bits"
	"time"
)

// cmdKind names what a latency was measured for: a protocol command, or a
// whole churn cycle. The bench keeps its own names of the commands it sends
// rather than importing tcpserver.Commands(): a client-side tool, it would
// otherwise link the whole server (service, database, SQLite driver), and
// it indexes fixed arrays with them on its hot path. Its tests check every
// name against tcpserver.Commands() (TestCommandNamesAreTheServers).
type cmdKind int

const (
	cmdGetJobState cmdKind = iota
	cmdKeepalive
	cmdCreateJob
	cmdNotifyJob
	cmdDestroyJob
	cmdListJobs
	cmdListMachines
	cmdWhereIs
	cmdVersion
	cmdCycle // churn: create_job sent -> destroy_job answered
	numCmds
)

var cmdNames = [numCmds]string{"get_job_state", "job_keepalive", "create_job", "notify_job",
	"destroy_job", "list_jobs", "list_machines", "where_is", "version", "cycle"}

func (k cmdKind) String() string { return cmdNames[k] }

// histogram buckets nanoseconds: exact below 256, then 128 buckets per
// power of two.
type histogram struct {
	counts []uint64
	n      uint64
	max    int64
}

const (
	histExact = 256
	histSub   = 128
	histSize  = histExact + 56*histSub
)

func bucketOf(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - 8 // v>>shift is in [128, 256)
	return histExact + (shift-1)*histSub + int(v>>shift) - histSub
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) int64 {
	if i < histExact {
		return int64(i)
	}
	i -= histExact
	shift := i/histSub + 1
	lo := int64(i%histSub+histSub) << shift
	return lo + (int64(1)<<shift)/2
}

func (h *histogram) add(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, histSize)
	}
	h.counts[bucketOf(int64(d))]++
	h.n++
	h.max = max(h.max, int64(d))
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histSize)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of the samples lie.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(min(bucketValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// recorder collects one loop's measurements: only requests sent inside the
// measuring window count.
type recorder struct {
	from, to time.Duration
	hist     [numCmds]histogram
	errors   [numCmds]int64
	// lastErr keeps one exception message for the report.
	lastErr string
}

func (r *recorder) inWindow(t0 time.Duration) bool { return t0 >= r.from && t0 < r.to }

// done records a reply to a request of kind k sent at t0.
func (r *recorder) done(k cmdKind, t0, now time.Duration, failed bool) {
	if !r.inWindow(t0) {
		return
	}
	r.hist[k].add(now - t0)
	if failed {
		r.errors[k]++
	}
}

func (r *recorder) merge(o *recorder) {
	for k := range numCmds {
		r.hist[k].merge(&o.hist[k])
		r.errors[k] += o.errors[k]
	}
	if o.lastErr != "" {
		r.lastErr = o.lastErr
	}
}

// clock is monotonic time since the start of a run.
type clock struct{ base time.Time }

func newClock() *clock { return &clock{base: time.Now()} }

func (c *clock) now() time.Duration { return time.Since(c.base) }
