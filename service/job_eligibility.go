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
// false ("machine drained: ...", "owner limit: ...").

// machineAccepts reports whether machine m takes new allocations now.
func (t *tx) machineAccepts(m *machine) (bool, string) {
	return true, ""
}

// jobEligible reports whether queued job j may be allocated now.
func (t *tx) jobEligible(j *job) (bool, string) {
	return true, ""
}
