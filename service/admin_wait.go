package service

// Why a queued job waits (for operators): its place in each queue it is in
// and, per machine, what holds it back.

import (
	"fmt"
	"strings"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/config"
)

// reader is a transaction that only reads world w: the questions queue
// service asks (headOf, machineAccepts, jobEligible), asked for operators.
func (s *Service) reader(w *world) *tx {
	return &tx{s: s, base: w, now: stamp(s.clock.Now())}
}

// waitReason explains a queued job of world w.
func (s *Service) waitReason(w *world, j *job) *WaitReason {
	r := s.reader(w)
	wr := &WaitReason{Positions: []QueuePosition{}}
	var reasons []string
	limited := ownerLimited(w, j) // then only drains add to it
	if limited != "" {
		reasons = append(reasons, limited)
	}
	for _, m := range w.machines {
		pos := queuePosition(m, j.id)
		if pos == 0 {
			continue
		}
		wr.Positions = append(wr.Positions, QueuePosition{Machine: m.name, Position: pos})
		if limited == "" || m.drain != nil {
			reasons = append(reasons, r.machineWaitReason(j, m))
		}
	}
	if len(wr.Positions) == 0 {
		reasons = append(reasons, "in no machine's queue")
	}
	wr.Reason = strings.Join(reasons, "; ")
	return wr
}

// ownerLimited is why a queued job of w waits for its owner ("" = it does
// not).
func ownerLimited(w *world, j *job) string {
	if p := w.settings.limits; limitsOwners(p) {
		return ownerLimitReason(p, w.owners()[j.owner], j)
	}
	return ""
}

// queuePosition is the job's 1-based place in m's queue, 0 if absent.
func queuePosition(m *machine, id int64) int {
	for i, q := range m.queue {
		if q == id {
			return i + 1
		}
	}
	return 0
}

// machineWaitReason says what keeps j waiting on m. Queue service passes
// over jobs the machine cannot hold with its current out-of-service boards
// and jobs that are not eligible (they neither wait in line nor block it),
// so only the jobs ahead that it serves count.
func (t *tx) machineWaitReason(j *job, m *machine) string {
	if ok, why := t.machineAccepts(m); !ok {
		return why
	}
	if !m.model.Feasible(j.areq) {
		return fmt.Sprintf("%s cannot hold it while some of its boards are out of service", m.name)
	}
	if ok, why := t.jobEligible(j); !ok {
		return why
	}
	reserving := t.currentSettings().policy == config.PolicyReserve
	res := m.reservation
	var reason string
	switch h, k := t.headOf(m); {
	case h == nil || h.id == j.id:
		reason = t.noFreeReason(j, m) + unreachableNote(m, j)
		if res != nil && res.job == j.id {
			reason = fmt.Sprintf("head of the queue; boards reserved: %s on %s", res.region, m.name) + unreachableNote(m, j)
		}
	case !reserving:
		return t.behindReason(j, m, k)
	case res != nil && t.fitsNow(j, m):
		reason = fmt.Sprintf("boards it could use are reserved for job %d on %s", res.job, m.name)
	default:
		reason = t.noFreeReason(j, m) + unreachableNote(m, j)
	}
	return reason + mostBoardsNote(j, m)
}

// mostBoardsNote says when m can never offer the n boards j asks for, and
// how many it waits for instead ("" otherwise).
func mostBoardsNote(j *job, m *machine) string {
	if j.areq.Kind != allocator.NBoards {
		return ""
	}
	most := allocator.MostBoards(m.model.m, j.areq)
	if most >= j.areq.N {
		return ""
	}
	return fmt.Sprintf("; machine %s can never offer %d working boards in one block; waiting for a block of %d",
		m.name, j.areq.N, most)
}

// behindReason is "behind N jobs on m": the jobs from the head (at
// position k of m's queue) to j that queue service serves first.
func (t *tx) behindReason(j *job, m *machine, k int) string {
	ahead := 0
	for _, id := range m.queue[k:] {
		if id == j.id {
			break
		}
		if other := t.job(id); other != nil && other.state == StateQueued && m.model.Feasible(other.areq) {
			if ok, _ := t.jobEligible(other); ok {
				ahead++
			}
		}
	}
	if ahead == 1 {
		return fmt.Sprintf("behind 1 job on %s", m.name)
	}
	return fmt.Sprintf("behind %d jobs on %s", ahead, m.name)
}

// noFreeReason is "no free <request> on m (<constraints>)".
func (t *tx) noFreeReason(j *job, m *machine) string {
	reason := fmt.Sprintf("no free %s on %s", describeRequest(j.req), m.name)
	if c := describeConstraints(j.req); j.req.MinRatio > 0 || len(c) > 0 {
		if j.req.MinRatio > 0 {
			c = append([]string{fmt.Sprintf("min_ratio %g", j.req.MinRatio)}, c...)
		}
		reason += " (" + strings.Join(c, ", ") + ")"
	}
	return reason
}

// fitsNow reports whether j could be placed on m now, were no boards
// reserved.
func (t *tx) fitsNow(j *job, m *machine) bool {
	_, ok := allocator.Place(m.model.m, m.occ, j.areq)
	return ok
}

// unreachableNote names the unreachable BMPs whose boards would let j be
// placed on m now ("" when there are none).
func unreachableNote(m *machine, j *job) string {
	down := unreachableHolding(m, j)
	if len(down) == 0 {
		return ""
	}
	names := make([]string, len(down))
	for k, b := range down {
		names[k] = b.String()
	}
	verb := "does not answer: its boards are unavailable until it does"
	if len(names) > 1 {
		verb = "do not answer: their boards are unavailable until they do"
	}
	return " while " + strings.Join(names, " and ") + " " + verb
}
