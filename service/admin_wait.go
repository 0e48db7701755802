package service

// Why a queued job waits (for operators): its place in each queue it is in
// and, per machine, what holds it back.

import (
	"fmt"
	"strings"

	"github.com/spalloc/spallocd/service/allocator"
)

// waitReason explains a queued job. The caller holds the mirror's read
// lock (machines and jobs are the mirror's).
func waitReason(j *jobState, machines []*machineState, jobs map[int64]*jobState) *WaitReason {
	w := &WaitReason{Positions: []QueuePosition{}}
	var reasons []string
	for _, m := range machines {
		pos := queuePosition(m, j.id)
		if pos == 0 {
			continue
		}
		w.Positions = append(w.Positions, QueuePosition{Machine: m.name, Position: pos})
		reasons = append(reasons, machineWaitReason(j, m, jobs))
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "in no machine's queue")
	}
	w.Reason = strings.Join(reasons, "; ")
	return w
}

// queuePosition is the job's 1-based place in m's queue, 0 if absent.
func queuePosition(m *machineState, id int64) int {
	for i, q := range m.queue {
		if q == id {
			return i + 1
		}
	}
	return 0
}

// machineWaitReason says what keeps j waiting on m. Queue service passes
// over jobs the machine cannot hold with its current out-of-service boards
// (they neither wait in line nor block it), so only the jobs ahead that it
// can hold count.
func machineWaitReason(j *jobState, m *machineState, jobs map[int64]*jobState) string {
	if !m.model.Feasible(j.areq) {
		return fmt.Sprintf("%s cannot hold it while some of its boards are out of service", m.name)
	}
	ahead := 0
	for _, id := range m.queue {
		if id == j.id {
			break
		}
		if other := jobs[id]; other != nil && other.state == StateQueued && m.model.Feasible(other.areq) {
			ahead++
		}
	}
	switch ahead {
	case 0:
		return fmt.Sprintf("no free %s on %s%s", describeRequest(j.req), m.name, describeConstraints(j.req))
	case 1:
		return fmt.Sprintf("behind 1 job on %s", m.name)
	}
	return fmt.Sprintf("behind %d jobs on %s", ahead, m.name)
}

// describeRequest names what a request needs, e.g. "2x1-triad block".
func describeRequest(r jobRequest) string {
	switch r.Kind {
	case allocator.NBoards:
		return fmt.Sprintf("block of %d boards", r.N)
	case allocator.Rect:
		return fmt.Sprintf("%dx%d-triad block", r.W, r.H)
	case allocator.SpecificBoard:
		if r.Board != nil {
			return fmt.Sprintf("board (%d, %d, %d)", r.Board[0], r.Board[1], r.Board[2])
		}
	}
	return "board"
}

// describeConstraints lists the request's limits, e.g. " (max_dead_boards=0)".
func describeConstraints(r jobRequest) string {
	var c []string
	if r.MaxDeadBoards != allocator.Unlimited {
		c = append(c, fmt.Sprintf("max_dead_boards=%d", r.MaxDeadBoards))
	}
	if r.MaxDeadLinks != allocator.Unlimited {
		c = append(c, fmt.Sprintf("max_dead_links=%d", r.MaxDeadLinks))
	}
	if r.MinRatio > 0 {
		c = append(c, fmt.Sprintf("min_ratio=%g", r.MinRatio))
	}
	if r.RequireTorus {
		c = append(c, "require_torus")
	}
	if len(c) == 0 {
		return ""
	}
	return " (" + strings.Join(c, ", ") + ")"
}
