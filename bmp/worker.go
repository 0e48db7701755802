package bmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/config"
)

// backend is what the workers need from the service (*service.Service in
// production). Every call is one short transaction; no transaction is open
// while packets are on the wire.
type backend interface {
	BMPs(ctx context.Context) ([]service.BMPEndpoint, error)
	ClaimBMPOps(ctx context.Context, bmpID int64) ([]service.BMPOp, error)
	CompleteBMPOps(ctx context.Context, results []service.OpResult) error
	ReleaseBMPOps(ctx context.Context, opIDs []int64) error
	SetBMPReachable(ctx context.Context, bmpID int64, reachable bool, reason string) error
}

// workerConfig is what every worker shares.
type workerConfig struct {
	settings   config.BMPSettings
	log        *slog.Logger
	obs        Observer
	stopGrace  time.Duration // how long in-flight work may go on after stop
	flushWait  time.Duration // longest a finished op waits to be reported
	probeEvery time.Duration // how often an unreachable BMP is probed (probe.go)
}

func (c workerConfig) attempts() int { return max(1, c.settings.RequestAttempts) }

// Limits of the retries (README, board states).
const (
	// linkAttempts is how many times an op whose replies are lost is
	// tried while its BMP answers probes, before the BMP is taken for
	// unreachable anyway.
	linkAttempts = 10
	// maxRecordBackoff caps the wait between tries of recording outcomes.
	maxRecordBackoff = 5 * time.Second
)

// StopCallsTimeout bounds the last calls of a stopped worker to the
// service (recording outcomes, then releasing claims), together: a worker
// stops at most ManagerOptions.StopGrace plus this after it is told to.
const StopCallsTimeout = time.Second

// batch is a set of claimed ops tried together: the ops of one claim, or
// the ops that failed one attempt and are tried again.
type batch struct {
	ops       []service.BMPOp // request order
	attempt   int             // request attempt this try is (1 for the first); tries whose replies were lost do not count
	linkTries int             // tries before this one whose replies were lost
	due       time.Time       // not before
}

// worker drives one BMP. Its goroutine (run) owns everything below done;
// the manager only pokes wake and cancels it.
type worker struct {
	ep     service.BMPEndpoint
	addr   string // where packets go (the configured address, resolved)
	svc    backend
	cfg    workerConfig
	wake   chan struct{} // 1-buffered: "there may be ops to claim"
	done   chan struct{} // closed when run returns
	cancel context.CancelFunc

	client    *Client // nil until connect succeeds
	dialErr   error   // why connect failed: every step of the attempt fails with it
	pace      pacer
	retries   []batch // failed attempts waiting for their retry, by due time
	pending   []service.OpResult
	pendingAt time.Time           // when the oldest pending result was added
	claimedAt map[int64]time.Time // first claim of each op claimed and not yet reported
	attempts  map[int64]int       // attempts made per op not yet reported

	down      bool  // the BMP does not answer: claim nothing, probe (probe.go)
	downCause error // why it was found down
	downTold  bool  // the service has been told
}

func newWorker(ep service.BMPEndpoint, addr string, svc backend, cfg workerConfig) *worker {
	return &worker{
		ep: ep, addr: addr, svc: svc, cfg: cfg,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		pace:      pacer{rate: cfg.settings.PowerOnRate},
		claimedAt: make(map[int64]time.Time),
		attempts:  make(map[int64]int),
	}
}

// poke tells the worker there may be ops to claim; it never blocks.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run serves the BMP until ctx ends. Work in flight when ctx ends may go
// on for cfg.stopGrace (packets already sent get their answer and their
// outcome is recorded); the ops it claimed and did not get recorded are
// then released, to be handed out again. These last two calls to the
// service share StopCallsTimeout.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	exec, release := graceContext(ctx, w.cfg.stopGrace)
	w.serve(ctx, exec)
	release()
	if w.client != nil {
		w.client.Close()
	}
	last, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopCallsTimeout)
	defer cancel()
	w.record(last)
	w.releaseClaims(last)
}

// serve is run's loop. Nothing is claimed while outcomes wait to be
// recorded, or while the BMP does not answer.
func (w *worker) serve(ctx, exec context.Context) {
	w.checkAtStart(ctx)
	for ctx.Err() == nil {
		if w.down {
			w.whileDown(ctx)
			continue
		}
		w.claimAndRun(ctx, exec)
		for ctx.Err() == nil && len(w.retries) > 0 && !time.Now().Before(w.retries[0].due) {
			b := w.retries[0]
			w.retries = w.retries[1:]
			w.runBatch(ctx, exec, b)
		}
		if !w.record(ctx) {
			return
		}
		if !w.down { // else probe at once
			w.waitForWork(ctx)
		}
	}
}

func (w *worker) name() string {
	return fmt.Sprintf("%s c%d f%d (%s)", w.ep.Machine, w.ep.Cabinet, w.ep.Frame, w.addr)
}

// waitForWork blocks until a poke, a retry falling due, or ctx ending.
func (w *worker) waitForWork(ctx context.Context) {
	var due <-chan time.Time
	if len(w.retries) > 0 {
		t := time.NewTimer(time.Until(w.retries[0].due))
		defer t.Stop()
		due = t.C
	}
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-due:
	}
}

// connect opens the client if it is not open yet. An address that cannot
// be used (say, a host name that does not resolve) fails the steps of this
// attempt; the next attempt tries again.
func (w *worker) connect(ctx context.Context) {
	if w.client != nil {
		return
	}
	w.client, w.dialErr = Dial(ctx, w.addr, OptionsFrom(w.cfg.settings))
	if w.dialErr != nil {
		w.client, w.dialErr = nil, &addressError{w.dialErr}
		if !w.down { // else said already; probes try again quietly
			w.cfg.log.Error("cannot open the BMP's address", "bmp", w.name(), "err", w.dialErr)
		}
	}
}

func (w *worker) claimAndRun(ctx, exec context.Context) {
	ops, err := w.svc.ClaimBMPOps(ctx, w.ep.ID)
	if err != nil {
		if ctx.Err() == nil {
			w.cfg.log.Warn("claiming BMP operations failed; will try again", "bmp", w.name(), "err", err)
		}
		return
	}
	if len(ops) == 0 {
		return
	}
	now := time.Now()
	for _, op := range ops {
		if _, ok := w.claimedAt[op.ID]; !ok {
			w.claimedAt[op.ID] = now
		}
	}
	w.cfg.log.Debug("claimed BMP operations", "bmp", w.name(), "ops", len(ops))
	w.runBatch(ctx, exec, batch{ops: ops, attempt: 1})
}

// runBatch makes one attempt at a batch: every step of its plan in order.
// Ops that succeed are reported; ops that fail are tried again or reported
// as failed (afterAttempt). Ops of a board that failed this attempt wait
// for the next one, so that a board's ops keep their order.
func (w *worker) runBatch(ctx, exec context.Context, b batch) {
	w.connect(exec)
	for _, op := range b.ops {
		w.attempts[op.ID]++
	}
	steps, bad := planOps(b.ops)
	for _, op := range bad {
		w.finish(op, fmt.Errorf("bmp %s: cannot carry out operation %d: kind %q, links %v", w.addr, op.ID, op.Kind, op.Links))
	}
	failed := make(map[int64]error) // op id -> why it failed this attempt
	blocked := make(map[int]error)  // board number -> its first failure this attempt
	var abort error                 // the BMP stopped answering: skip the rest
	for _, s := range steps {
		if ctx.Err() != nil {
			return // stopping: what is not reported is released (run)
		}
		if s.kind == stepPowerOn {
			w.flush(exec) // a power-on can take seconds: report what is done first
		}
		errs, fatal := w.attempt(exec, s, blocked, abort)
		if abort == nil {
			abort = fatal
		}
		for _, op := range s.ops {
			err := errs[op.BoardNum]
			switch {
			case err == nil:
				w.finish(op, nil)
			case exec.Err() != nil && isInterrupted(err):
				// Cut short by the stop grace: released (run).
			default:
				failed[op.ID] = err
				if blocked[op.BoardNum] == nil {
					blocked[op.BoardNum] = err
				}
			}
		}
		if time.Since(w.pendingAt) >= w.cfg.flushWait {
			w.flush(exec) // a long attempt reports as it goes
		}
	}
	if ctx.Err() == nil {
		w.afterAttempt(ctx, b, failed)
	}
}

// attempt sends one step for its boards that have not failed yet in this
// attempt; the others fail with the reason they were left out.
func (w *worker) attempt(ctx context.Context, s step, blocked map[int]error, abort error) (errs map[int]error, fatal error) {
	errs = make(map[int]error)
	send := s
	send.boards = nil
	for _, b := range s.boards {
		switch {
		case blocked[b] != nil:
			errs[b] = fmt.Errorf("not attempted: an earlier operation of board %d failed: %w", b, blocked[b])
		case abort != nil:
			errs[b] = fmt.Errorf("not attempted: %w", abort)
		default:
			send.boards = append(send.boards, b)
		}
	}
	if len(send.boards) == 0 {
		return errs, nil
	}
	sent, fatal := w.do(ctx, send)
	maps.Copy(errs, sent)
	return errs, fatal
}

// afterAttempt decides what becomes of the ops that failed an attempt
// (README, board states). Ops the BMP answered with an error are tried
// again after the request retry delay, and reported as failed (blaming
// their board) once the request attempts are used up. Ops whose replies
// were lost make the worker probe the BMP: if it does not answer, they are
// reported with BMPDown and the worker stops claiming until it answers
// (giveUp); if it does, they are tried again with backoff, up to
// linkAttempts times.
func (w *worker) afterAttempt(ctx context.Context, b batch, failed map[int64]error) {
	var answered, lost []service.BMPOp
	for _, op := range b.ops {
		switch err, ok := failed[op.ID]; {
		case !ok:
		case isLinkFault(err):
			lost = append(lost, op)
		default:
			answered = append(answered, op)
		}
	}
	if len(answered) > 0 {
		if b.attempt >= w.cfg.attempts() {
			for _, op := range answered {
				w.report(op, w.gaveUp(op, failed[op.ID]), false)
			}
		} else {
			w.retry(batch{ops: answered, attempt: b.attempt + 1, linkTries: b.linkTries}, w.cfg.settings.RequestRetryDelay, failed)
		}
	}
	if len(lost) == 0 {
		return
	}
	cause := w.probe(ctx)
	switch {
	case cause != nil && !isLinkFault(cause):
		// The probe was cut short by a stop: released (run).
	case cause != nil:
		w.giveUp(cause, lost, failed)
	case b.linkTries+1 >= linkAttempts:
		err := failed[lost[0].ID]
		w.giveUp(fmt.Errorf("%w, in %d attempts, although the BMP answers probes", err, b.linkTries+1), lost, failed)
	default:
		w.retry(batch{ops: lost, attempt: b.attempt, linkTries: b.linkTries + 1}, w.linkBackoff(b.linkTries+1), failed)
	}
}

// linkBackoff is the wait before the n-th retry of ops whose replies were
// lost: the [bmp] time-out, doubled each time, at most the request retry
// delay.
func (w *worker) linkBackoff(n int) time.Duration {
	d := w.cfg.settings.Timeout << min(n-1, 16)
	return max(0, min(d, w.cfg.settings.RequestRetryDelay))
}

// retry schedules a batch to be tried again after delay.
func (w *worker) retry(b batch, delay time.Duration, failed map[int64]error) {
	w.cfg.log.Warn("BMP request failed; will try again", "bmp", w.name(), "ops", len(b.ops),
		"attempt", w.attempts[b.ops[0].ID], "retry_in", delay, "err", failed[b.ops[0].ID])
	b.due = time.Now().Add(delay)
	w.retries = append(w.retries, b)
	slices.SortStableFunc(w.retries, func(x, y batch) int { return x.due.Compare(y.due) })
}

func allBoards(boards []int, err error) map[int]error {
	m := make(map[int]error, len(boards))
	for _, b := range boards {
		m[b] = err
	}
	return m
}

// do sends one step. errs holds the boards that failed and why; fatal is
// set when the BMP did not answer at all, so that the rest of the attempt
// is not spent waiting for more time-outs.
func (w *worker) do(ctx context.Context, s step) (errs map[int]error, fatal error) {
	start := time.Now()
	switch {
	case w.client == nil:
		errs, fatal = allBoards(s.boards, w.dialErr), w.dialErr
	case s.kind == stepPowerOn:
		errs = w.powerOn(ctx, s.boards)
	case s.kind == stepPowerOff:
		if err := w.client.Power(ctx, false, s.boards); err != nil {
			errs = allBoards(s.boards, err)
		}
	default:
		if err := w.client.SetLinks(ctx, s.boards[0], s.links, s.enable); err != nil {
			errs = allBoards(s.boards, err)
		}
	}
	var first error
	for _, b := range s.boards {
		err := errs[b]
		if err != nil && first == nil {
			first = err
		}
		if err != nil && fatal == nil && isLinkFault(err) {
			fatal = err
		}
	}
	if w.cfg.obs != nil {
		w.cfg.obs.Step(StepEvent{BMP: w.ep, Kind: s.kind.String(), Boards: len(s.boards), Failed: len(errs), Duration: time.Since(start), Err: first})
	}
	if first != nil && !isInterrupted(first) {
		w.cfg.log.Warn("BMP step failed", "bmp", w.name(), "step", s.kind.String(), "boards", s.boards, "failed", len(errs), "err", first)
	}
	return errs, fatal
}

// powerOn switches boards on and checks their FPGAs. With a power-on rate
// the boards go in chunks of at most rate boards, each chunk sent when the
// rate allows; chunks overlap (one chunk's post-power-on wait and checks
// run while the next is switched on), so the rate, not the wait, sets the
// pace.
func (w *worker) powerOn(ctx context.Context, boards []int) map[int]error {
	check := CheckOptions{Rounds: w.cfg.settings.FPGACheckRounds, PostPowerOnWait: w.cfg.settings.PostPowerOnDelay}
	var (
		mu   sync.Mutex
		errs map[int]error
		wg   sync.WaitGroup
	)
	record := func(b int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if errs == nil {
			errs = make(map[int]error)
		}
		errs[b] = err
	}
	for chunk := range slices.Chunk(boards, w.pace.chunkSize(len(boards))) {
		if err := sleepUntil(ctx, w.pace.reserve(time.Now(), len(chunk))); err != nil {
			for _, b := range chunk {
				record(b, err)
			}
			continue
		}
		wg.Go(func() {
			failed, err := w.client.PowerOnAndCheck(ctx, chunk, check)
			for _, b := range chunk {
				switch berr, bad := failed[b]; {
				case bad:
					record(b, fmt.Errorf("bmp %s: power on board %d: %w", w.addr, b, berr))
				case failed == nil && err != nil:
					record(b, err)
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// finish queues an op's final outcome for reporting.
func (w *worker) finish(op service.BMPOp, err error) { w.report(op, err, false) }

// flush reports the queued outcomes in one service call. If the call
// fails they stay queued for the next one: outcomes are never dropped.
func (w *worker) flush(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	if err := w.svc.CompleteBMPOps(ctx, w.pending); err != nil {
		return err
	}
	w.pending = nil
	return nil
}

// record flushes the queued outcomes, trying again with backoff (from 50
// ms, doubling, at most maxRecordBackoff) until the service takes them; it
// reports false if ctx ended first (the outcomes stay queued).
func (w *worker) record(ctx context.Context) bool {
	failures := 0
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, maxRecordBackoff) {
		err := w.flush(ctx)
		if err == nil {
			if failures > 0 {
				w.cfg.log.Info("recorded BMP outcomes", "bmp", w.name(), "failed_tries", failures)
			}
			return true
		}
		failures++
		if failures == 1 && ctx.Err() == nil {
			w.cfg.log.Log(ctx, levelOf(err), "recording BMP outcomes failed; trying again until it works, claiming nothing meanwhile",
				"bmp", w.name(), "ops", len(w.pending), "err", err)
		}
		if sleepUntil(ctx, time.Now().Add(wait)) != nil {
			return false
		}
	}
}

// releaseClaims gives back, when the worker stops, the claims of the ops
// it did not get recorded (not attempted, cut short, waiting for a retry,
// or with outcomes the service did not take), so that they are handed out
// again at once rather than waiting for a restart.
func (w *worker) releaseClaims(ctx context.Context) {
	ids := slices.Collect(maps.Keys(w.claimedAt))
	for _, r := range w.pending {
		ids = append(ids, r.OpID)
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	if err := w.svc.ReleaseBMPOps(ctx, ids); err != nil {
		w.cfg.log.Log(ctx, levelOf(err), "releasing claimed BMP operations failed; they are handed out again after a restart",
			"bmp", w.name(), "ops", len(ids), "err", err)
		return
	}
	w.cfg.log.Info("released claimed BMP operations not carried out", "bmp", w.name(), "ops", len(ids))
}

// levelOf is the log level of a failed service call: an error, unless the
// service is stopping (then the restart hands every open operation out).
func levelOf(err error) slog.Level {
	if service.KindOf(err) == service.KindUnavailable {
		return slog.LevelInfo
	}
	return slog.LevelError
}

// isLinkFault reports whether err means the BMP did not answer (no usable
// reply: none, too late, cut short or garbled) or could not be sent to,
// rather than answering with an error for a board.
func isLinkFault(err error) bool {
	var te *TimeoutError
	var ae *addressError
	return errors.As(err, &te) || errors.As(err, &ae)
}

// isInterrupted reports whether err comes from stopping rather than from
// the BMP.
func isInterrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed)
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// graceContext returns a context that ends grace after parent ends (or
// when release is called), so that work in flight at a stop can finish.
func graceContext(parent context.Context, grace time.Duration) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(parent, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(grace, cancel)
	})
	return ctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// pacer spaces power-ons so that a BMP switches on at most rate boards per
// second (0 = unlimited).
type pacer struct {
	rate float64
	next time.Time // earliest start of the next power-on
}

// chunkSize is how many of n boards one power-on packet may carry.
func (p *pacer) chunkSize(n int) int {
	if p.rate <= 0 || n <= 0 {
		return max(n, 1)
	}
	return min(n, max(1, int(p.rate)))
}

// reserve books a power-on of n boards and returns when it may be sent:
// now if the BMP has been idle long enough, else when the boards switched
// on before have used up their share of the rate.
func (p *pacer) reserve(now time.Time, n int) time.Time {
	if p.rate <= 0 {
		return now
	}
	start := now
	if p.next.After(now) {
		start = p.next
	}
	p.next = start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	return start
}
