package service

// Claims of BMP operations. A claim is a lease: a worker that claims
// operations holds them until it reports them, releases them, or the lease
// runs out. The lease lasts as long as the claimed operations can take in
// the worst case under the current [bmp] settings, plus a margin; a claim
// whose lease ran out is handed back by the timed work (Tick) and its
// operations are handed out again. Claims live in memory only: a restart
// hands every open operation out again anyway.

import (
	"cmp"
	"context"
	"math/bits"
	"slices"
	"time"

	"github.com/spalloc/spallocd/service/config"
)

// leaseMargin is added to the worst case of a claim: the worker's own
// delays (reporting in batches, waiting for the writer) on top of the
// time-outs and retries the worst case counts.
const leaseMargin = 10 * time.Second

// ClaimBMPOps claims the open operations of a BMP that no worker holds and
// returns them in the order they were requested. A board's operations are
// handed out in order: while one of them is claimed, its later ones are
// held back.
func (s *Service) ClaimBMPOps(ctx context.Context, bmpID int64) ([]BMPOp, error) {
	return s.ClaimAllBMPOps(ctx, []int64{bmpID})
}

// ClaimAllBMPOps is ClaimBMPOps for several BMPs at once: it returns the
// operations of all of them, in the order they were requested, under one
// lease. The trace replay, which plays every BMP worker at once, uses it.
func (s *Service) ClaimAllBMPOps(ctx context.Context, bmpIDs []int64) ([]BMPOp, error) {
	if len(bmpIDs) == 0 {
		return nil, nil
	}
	var out []BMPOp
	err := s.update(func(t *tx) error {
		out = t.claim(bmpIDs)
		return nil
	})
	return out, err
}

// claim claims the operations of the BMPs that are not held back by a
// claimed operation of their board (as it was before this claim:
// operations claimed together never hold each other back).
func (t *tx) claim(bmpIDs []int64) []BMPOp {
	var picked []*op
	seen := map[int64]bool{}
	for _, bmpID := range bmpIDs {
		if seen[bmpID] {
			continue
		}
		seen[bmpID] = true
		list := t.opsOf(bmpID)
		held := map[int64]bool{}
		for _, o := range list {
			if !o.claimedAt.IsZero() {
				held[o.boardID] = true
			}
		}
		for _, o := range list {
			if o.claimedAt.IsZero() && !held[o.boardID] {
				picked = append(picked, o)
			}
		}
	}
	if len(picked) == 0 {
		return nil
	}
	sortOps(picked)
	until := leases(t.now, t.currentSettings().bmp, picked)
	out := make([]BMPOp, len(picked))
	for k, o := range picked {
		c := *o
		c.claimedAt, c.leaseUntil = t.now, until[o.bmpID]
		t.replaceOp(&c)
		out[k] = c.bmpOp()
	}
	return out
}

// ReleaseBMPOps gives claimed operations back without an outcome (a worker
// stops, or will not attempt them): they are handed out again, unless a
// newer power request for their board has come meanwhile, which then
// supersedes them. Operations that are done or not claimed are ignored.
func (s *Service) ReleaseBMPOps(ctx context.Context, opIDs []int64) error {
	if len(opIDs) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		var ops []*op
		for _, id := range opIDs {
			if o := t.op(id); o != nil && !o.claimedAt.IsZero() {
				ops = append(ops, o)
			}
		}
		return t.unclaim(ops)
	})
}

// unclaim ends the claims of operations: superseded when their board has a
// newer power request, else open for the next claim.
func (t *tx) unclaim(ops []*op) error {
	var superseded []*op
	for _, o := range ops {
		if t.newerPowerRequest(o) {
			superseded = append(superseded, o)
			continue
		}
		c := *o
		c.claimedAt, c.leaseUntil = time.Time{}, time.Time{}
		t.replaceOp(&c)
		t.change.bmp(o.bmpID)
	}
	return t.supersede(superseded)
}

// releaseClaimsOfLastRun treats the operations of the previous run as
// released by their workers (claims are not stored): those with a newer
// power request for their board are superseded, the others are handed out
// again. So a claim never holds two power operations for one board.
func (s *Service) releaseClaimsOfLastRun(ctx context.Context) error {
	var stale []int64
	s.world.Load().ops.each(func(_ int64, b *bmpOps) {
		for k, o := range b.ops {
			if slices.ContainsFunc(b.ops[k+1:], func(n *op) bool { return n.boardID == o.boardID && n.isPower() }) {
				stale = append(stale, o.id)
			}
		}
	})
	if len(stale) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		ops := make([]*op, 0, len(stale))
		for _, id := range stale {
			ops = append(ops, t.op(id))
		}
		return t.supersede(ops)
	})
}

// newerPowerRequest reports whether o's board has a power request newer
// than o.
func (t *tx) newerPowerRequest(o *op) bool {
	for _, n := range t.opsOfBoard(o.bmpID, o.boardID) {
		if n.id > o.id && n.isPower() {
			return true
		}
	}
	return false
}

// lapsedClaims lists the claimed operations whose lease ran out by now.
func lapsedClaims(w *world, now time.Time) []int64 {
	var ids []int64
	w.ops.each(func(_ int64, b *bmpOps) {
		for _, o := range b.ops {
			if o.lapsed(now) {
				ids = append(ids, o.id)
			}
		}
	})
	return ids
}

// leases is when the claims of ops lapse, per BMP (each BMP's worker
// carries out its own operations).
func leases(now time.Time, st config.BMPSettings, ops []*op) map[int64]time.Time {
	byBMP := map[int64][]*op{}
	for _, o := range ops {
		byBMP[o.bmpID] = append(byBMP[o.bmpID], o)
	}
	until := make(map[int64]time.Time, len(byBMP))
	for bmpID, ops := range byBMP {
		until[bmpID] = now.Add(leaseFor(st, ops))
	}
	return until
}

// leaseFor is how long a worker may hold a claim of ops: one attempt at
// all of them (a power-on with its FPGA checks, a power-off, every link
// write, each with its time-outs and retries), times the request attempts,
// the waits between attempts, and a margin.
func leaseFor(st config.BMPSettings, ops []*op) time.Duration {
	packet := func(timeout time.Duration, retries int) time.Duration {
		return timeout * time.Duration(max(retries, 0)+1)
	}
	var attempt time.Duration
	on, off := 0, 0
	for _, o := range ops {
		switch o.kind {
		case OpPowerOn:
			on++
		case OpPowerOff:
			off++
		default: // a version read, then one write per link
			attempt += packet(st.Timeout, st.Retries) * time.Duration(1+bits.OnesCount64(uint64(o.links)))
		}
	}
	if on > 0 {
		// Per round: the power-on, the wait, then per board a version
		// read and three FPGA reads.
		round := packet(st.PowerOnTimeout, st.PowerOnRetries) + st.PostPowerOnDelay +
			time.Duration(4*on)*packet(st.Timeout, st.Retries)
		attempt += time.Duration(max(st.FPGACheckRounds, 1)) * round
		if st.PowerOnRate > 0 {
			attempt += time.Duration(float64(on) / st.PowerOnRate * float64(time.Second))
		}
	}
	if off > 0 {
		attempt += packet(st.PowerOffTimeout, st.PowerOffRetries)
	}
	attempts := max(st.RequestAttempts, 1)
	return time.Duration(attempts)*attempt + time.Duration(attempts-1)*st.RequestRetryDelay + leaseMargin
}

// sortOps sorts operations by id (request order).
func sortOps(ops []*op) { slices.SortFunc(ops, func(a, b *op) int { return cmp.Compare(a.id, b.id) }) }
