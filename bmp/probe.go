package bmp

// BMP reachability (README, board states): a worker tells the
// service when its BMP does not answer at all, so that the BMP's boards
// become unavailable without being taken out of service, and probes it
// until it answers again.
//
//   - At start the worker probes its BMP before claiming anything; a BMP
//     that does not answer (or whose address cannot be used) is marked
//     unreachable.
//   - When ops fail an attempt without a usable reply (lost, late, cut
//     short or garbled replies; an address that cannot be used), a probe
//     decides: if the BMP does not answer it, the ops are reported with
//     BMPDown (the service marks the BMP unreachable and re-queues their
//     jobs), the ops waiting for a retry are given up the same way, and
//     the worker stops claiming. If it answers, the link is sick but
//     alive: the ops are tried again with backoff (runBatch's
//     afterAttempt), and given up the same way after linkAttempts.
//   - While its BMP is unreachable the worker claims nothing and probes it
//     every ManagerOptions.ProbeInterval; when it answers, the worker tells
//     the service (SetBMPReachable), which returns its boards to the pool,
//     and serves its ops again.
//
// The transitions are logged once each: WARN when the BMP stops
// answering, INFO when it answers again.
//
// A probe is a series of sver requests to board 0 of the frame, each a new
// request (a late answer to an earlier one does not count) that must be
// answered within the [bmp] time-out, as every request of an op must; any
// reply, even an error code, shows that the BMP is there. The series lasts
// as long as a power-on may take plus probeExtraTries time-outs, so that a
// BMP still busy with a power-on that timed out is not taken for dead, and
// lost datagrams on a lossy link are sent again.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service"
)

// DefaultProbeInterval is how often a worker probes its unreachable BMP
// when ManagerOptions does not say.
const DefaultProbeInterval = 5 * time.Second

// addressError means nothing could be sent to the BMP: its address cannot
// be used (malformed, or the host name does not resolve).
type addressError struct{ err error }

func (e *addressError) Error() string { return e.err.Error() }
func (e *addressError) Unwrap() error { return e.err }

// probeExtraTries is how many more sver requests a probe sends than a
// power-on's time-out covers.
const probeExtraTries = 8

// probe asks the BMP for its version and returns nil if it answered at
// all; otherwise why not: a *TimeoutError counting every request of the
// probe, an address that cannot be used, or an interruption by ctx or
// Close.
func (w *worker) probe(ctx context.Context) error {
	w.connect(ctx)
	if w.client == nil {
		return w.dialErr
	}
	req, err := scp.VersionRequest(0)
	if err != nil {
		return fmt.Errorf("bmp %s: probe: %w", w.addr, err)
	}
	o := w.client.opts
	tries := probeExtraTries + int((o.PowerOn.Timeout+o.Default.Timeout-1)/o.Default.Timeout)
	pol := Policy{Timeout: o.Default.Timeout} // no resend: each try is a new request
	lost := &TimeoutError{BMP: w.addr, Op: "sver board 0 (probe)", PerAttempt: pol.Timeout}
	for range tries {
		_, err := w.client.do(ctx, lost.Op, req, pol)
		var te *TimeoutError
		if err == nil || boardFault(err) {
			return nil
		}
		if !errors.As(err, &te) {
			return err
		}
		lost.Attempts++
		lost.Damaged += te.Damaged
	}
	return lost
}

// checkAtStart probes the BMP before the worker claims anything. A BMP
// that answers is recorded as reachable (a mark left by an earlier run is
// cleared; the service writes nothing when nothing changes).
func (w *worker) checkAtStart(ctx context.Context) {
	err := w.probe(ctx)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		w.tellReachable(ctx)
	case isLinkFault(err):
		w.goDown(err)
	default:
		w.cfg.log.Warn("probing the BMP failed", "bmp", w.name(), "err", err)
	}
}

// goDown makes the worker stop claiming until the BMP answers a probe.
func (w *worker) goDown(cause error) {
	w.down, w.downCause, w.downTold = true, cause, false
	// Debug: the service logs each transition once, at WARN and INFO, with
	// the machine, cabinet and frame the operator knows the BMP by.
	w.cfg.log.Debug("BMP unreachable: probing it until it answers",
		"bmp", w.name(), "err", cause, "probe_every", w.cfg.probeEvery)
}

// whileDown is one round of the unreachable state: make sure the service
// knows, wait the probe interval, probe. Pokes are ignored meanwhile (the
// ops stay queued in the service).
func (w *worker) whileDown(ctx context.Context) {
	if !w.downTold {
		err := w.svc.SetBMPReachable(ctx, w.ep.ID, false, w.downCause.Error())
		w.downTold = err == nil
		if err != nil && ctx.Err() == nil {
			w.cfg.log.Error("recording an unreachable BMP failed; will try again", "bmp", w.name(), "err", err)
		}
	}
	if sleepUntil(ctx, time.Now().Add(w.cfg.probeEvery)) != nil {
		return
	}
	err := w.probe(ctx)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		w.tellReachable(ctx)
	case isLinkFault(err):
		w.cfg.log.Debug("BMP still unreachable", "bmp", w.name(), "err", err)
	default:
		w.cfg.log.Warn("probing the BMP failed", "bmp", w.name(), "err", err)
	}
}

// tellReachable records that the BMP answers; the worker serves its ops
// again once the service knows (else it tries again after the next probe).
func (w *worker) tellReachable(ctx context.Context) {
	if err := w.svc.SetBMPReachable(ctx, w.ep.ID, true, ""); err != nil {
		if ctx.Err() == nil {
			w.cfg.log.Error("recording a reachable BMP failed; will try again", "bmp", w.name(), "err", err)
		}
		return
	}
	if w.down {
		w.cfg.log.Debug("BMP answers again", "bmp", w.name())
	}
	w.down, w.downCause = false, nil
	w.poke() // claim what waited meanwhile
}

// giveUp reports ops whose replies were lost with BMPDown, and the ops
// waiting for a retry with them (they cannot be carried out while the BMP
// does not answer), and stops claiming until the BMP answers a probe.
func (w *worker) giveUp(cause error, lost []service.BMPOp, failed map[int64]error) {
	for _, op := range lost {
		w.report(op, w.gaveUp(op, failed[op.ID]), true)
	}
	for _, r := range w.retries {
		for _, op := range r.ops {
			w.report(op, fmt.Errorf("not attempted again: %w", cause), true)
		}
	}
	w.retries = nil
	w.goDown(cause)
}

// gaveUp is the final error of an op that failed its last attempt.
func (w *worker) gaveUp(op service.BMPOp, err error) error {
	return fmt.Errorf("%w (gave up after %d attempt(s))", err, w.attempts[op.ID])
}

// report queues an op's final outcome for reporting; bmpDown says that the
// link to the BMP, not the board, is to blame (service.OpResult.BMPDown).
func (w *worker) report(op service.BMPOp, err error, bmpDown bool) {
	if len(w.pending) == 0 {
		w.pendingAt = time.Now()
	}
	w.pending = append(w.pending, service.OpResult{OpID: op.ID, Err: err, BMPDown: bmpDown})
	if err != nil {
		w.cfg.log.Error("BMP operation failed", "bmp", w.name(), "op", op.ID, "kind", op.Kind, "board", op.Board,
			"bmp_unreachable", bmpDown, "err", err)
	}
	if w.cfg.obs != nil {
		w.cfg.obs.OpDone(OpEvent{BMP: w.ep, Op: op, Attempts: max(1, w.attempts[op.ID]), Latency: time.Since(w.claimedAt[op.ID]), Err: err})
	}
	delete(w.claimedAt, op.ID)
	delete(w.attempts, op.ID)
}
