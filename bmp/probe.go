package bmp

// BMP reachability (spec §6): a worker tells the service when its BMP does
// not answer at all, so that the BMP's boards become unavailable without
// being taken out of service, and probes it until it answers again.
//
//   - At start the worker probes its BMP before claiming anything; a BMP
//     that does not answer (or whose address cannot be used) is marked
//     unreachable.
//   - When ops fail their last attempt without an answer (time-outs, an
//     address that cannot be used), one probe decides: if the BMP answers
//     it, only those requests went unanswered and the failures count
//     against the boards as any other error; if not, the ops are reported
//     with BMPDown (the service marks the BMP unreachable and re-queues
//     their jobs), the ops waiting for a retry are given up the same way,
//     and the worker stops claiming.
//   - While its BMP is unreachable the worker claims nothing and probes it
//     every ManagerOptions.ProbeInterval; when it answers, the worker tells
//     the service (SetBMPReachable) and serves its ops again.
//
// A probe is an sver to board 0 of the frame. Any reply, even an error
// code, shows that the BMP is there; each attempt waits as long as a
// power-on may take, so that a BMP busy switching boards on is not taken
// for dead, and a lost datagram is sent once more.

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

// isUnreachable reports whether err means the BMP did not answer at all or
// could not be sent to, rather than answering with an error for a board.
func isUnreachable(err error) bool {
	var ae *addressError
	return isUnanswered(err) || errors.As(err, &ae)
}

// probe asks the BMP for its version and returns nil if it answered at
// all; otherwise why not (unreachable, or interrupted by ctx or Close).
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
	pol := Policy{Timeout: max(o.Default.Timeout, o.PowerOn.Timeout), Retries: 1}
	_, err = w.client.do(ctx, "sver board 0 (probe)", req, pol)
	if err == nil || boardFault(err) {
		return nil
	}
	return err
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
	case isUnreachable(err):
		w.goDown(err)
	default:
		w.cfg.log.Warn("probing the BMP failed", "bmp", w.name(), "err", err)
	}
}

// goDown makes the worker stop claiming until the BMP answers a probe.
func (w *worker) goDown(cause error) {
	w.down, w.downCause, w.downTold = true, cause, false
	w.cfg.log.Warn("BMP unreachable: its boards are unavailable until it answers",
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
	case isUnreachable(err):
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
		w.cfg.log.Info("BMP answers again", "bmp", w.name())
	}
	w.down, w.downCause = false, nil
	w.poke() // claim what waited meanwhile
}

// giveUp reports the ops of a batch that failed their last attempt. If
// some went unanswered, a probe decides whether the BMP is down (see the
// top of this file). If the probe is cut short by a stop, the unanswered
// ops are not reported: they stay claimed and are redone after a restart.
func (w *worker) giveUp(ctx context.Context, b batch, failed map[int64]error) {
	var cause error // why the BMP is down; nil = it answers
	interrupted := false
	for _, err := range failed {
		if isUnreachable(err) {
			probeErr := w.probe(ctx)
			cause = probeErr
			interrupted = probeErr != nil && !isUnreachable(probeErr)
			break
		}
	}
	for _, op := range b.ops {
		err, ok := failed[op.ID]
		if !ok {
			continue
		}
		unanswered := isUnreachable(err)
		if unanswered && interrupted {
			continue
		}
		w.report(op, fmt.Errorf("%w (gave up after %d attempt(s))", err, b.attempt), unanswered && cause != nil)
	}
	if cause == nil || interrupted {
		return
	}
	w.goDown(cause)
	for _, r := range w.retries {
		for _, op := range r.ops {
			w.report(op, fmt.Errorf("not attempted again: %w", cause), true)
		}
	}
	w.retries = nil
}

// report queues an op's final outcome for reporting; bmpDown says that the
// BMP, not the board, is to blame (service.OpResult.BMPDown).
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
