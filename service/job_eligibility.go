package service

// Facility policy that queue service asks before it serves a machine or a
// job (issue 15: machine drain, per-owner limits). Queue service calls
// these two predicates and nothing else of that policy:
//
//   - a machine that does not accept allocations now is skipped by the
//     pass entirely: no head, no reservation chosen, no backfill;
//   - a job that is not eligible now is passed over like a job the
//     machine cannot hold: it neither becomes the head nor takes a
//     reservation, and does not hold up the jobs behind it.
//
// The string is the waiting reason shown to operators when the answer is
// false ("machine drained: ...", "owner limit: ..."). Both work on a
// transaction that only reads (t.jobs and t.ended empty) as well.

// machineAccepts reports whether machine m takes new allocations now: not
// while it is drained (admin_drain.go).
func (t *tx) machineAccepts(m *machine) (bool, string) {
	if m.drain != nil {
		return false, drainedReason(m)
	}
	return true, ""
}

// jobEligible reports whether queued job j may be allocated now: not while
// its owner is at max_live_jobs_per_owner, or the boards it asks for would
// take its owner over max_boards_per_owner (job_limits.go).
func (t *tx) jobEligible(j *job) (bool, string) {
	if p := t.currentSettings().limits; limitsOwners(p) {
		if why := ownerLimitReason(p, t.ownerUse(j.owner), j); why != "" {
			return false, why
		}
	}
	return true, ""
}
