package service

// Why a queued job waits (for operators): its place in each queue it is in
// and, per machine, what holds it back.

import (
	"fmt"
	"strings"
)

// waitReason explains a queued job of world w.
func waitReason(w *world, j *job) *WaitReason {
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
			reasons = append(reasons, machineWaitReason(w, j, m))
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
	if p := w.settings.policy; limitsOwners(p) {
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
// and jobs whose owner is over a limit (they neither wait in line nor
// block it), so only the other jobs ahead count.
func machineWaitReason(w *world, j *job, m *machine) string {
	if m.drain != nil {
		return drainedReason(m)
	}
	if !m.model.Feasible(j.areq) {
		return fmt.Sprintf("%s cannot hold it while some of its boards are out of service", m.name)
	}
	ahead := 0
	for _, id := range m.queue {
		if id == j.id {
			break
		}
		if other := w.job(id); other != nil && other.state == StateQueued && m.model.Feasible(other.areq) &&
			ownerLimited(w, other) == "" {
			ahead++
		}
	}
	switch ahead {
	case 0:
	case 1:
		return fmt.Sprintf("behind 1 job on %s", m.name)
	default:
		return fmt.Sprintf("behind %d jobs on %s", ahead, m.name)
	}
	reason := fmt.Sprintf("no free %s on %s", describeRequest(j.req), m.name)
	if c := describeConstraints(j.req); j.req.MinRatio > 0 || len(c) > 0 {
		if j.req.MinRatio > 0 {
			c = append([]string{fmt.Sprintf("min_ratio %g", j.req.MinRatio)}, c...)
		}
		reason += " (" + strings.Join(c, ", ") + ")"
	}
	if down := unreachableHolding(m, j); len(down) > 0 {
		names := make([]string, len(down))
		for k, b := range down {
			names[k] = b.String()
		}
		verb := "does not answer: its boards are unavailable until it does"
		if len(names) > 1 {
			verb = "do not answer: their boards are unavailable until they do"
		}
		reason += " while " + strings.Join(names, " and ") + " " + verb
	}
	return reason
}
