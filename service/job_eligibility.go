package service

// What queue service asks before it considers a machine or a job: a drained
// machine takes no allocation (its pass is skipped entirely), and a job
// whose owner is over a live-jobs or boards limit is passed over like one
// the machine cannot hold (it does not block the jobs behind it). The
// string is the reason the job waits, as waitReason shows it.

// machineAccepts reports whether m takes new allocations now; false, with
// the reason, while it is drained.
func (t *tx) machineAccepts(m *machine) (bool, string) {
	if m.drain != nil {
		return false, drainedReason(m)
	}
	return true, ""
}

// jobEligible reports whether queued job j may be given boards now; false,
// with the reason, while its owner is over max_live_jobs_per_owner or the
// boards it asks for would take its owner over max_boards_per_owner.
func (t *tx) jobEligible(j *job) (bool, string) {
	if p := t.currentSettings().policy; limitsOwners(p) {
		if why := ownerLimitReason(p, t.ownerUse(j.owner), j); why != "" {
			return false, why
		}
	}
	return true, ""
}
