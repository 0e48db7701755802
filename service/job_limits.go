package service

// The [policy] limits on jobs: keepalive and duration, and what one owner
// may hold or queue. The owner is what the client claims (the v1 protocol
// has no authentication).

import (
	"fmt"
	"sync"
	"time"

	"github.com/spalloc/spallocd/service/allocator"
	"github.com/spalloc/spallocd/service/config"
)

// ReasonMaxDurationFormat is the destroy reason of a job older than
// max_job_duration (with the limit, e.g. "24h").
const ReasonMaxDurationFormat = "Job exceeded the maximum duration of %s."

// ownerUse is what one owner's live jobs hold.
type ownerUse struct {
	running int // jobs holding boards (power, ready)
	boards  int // boards they hold
	queued  int
}

func (u *ownerUse) add(j *job, sign int) {
	if j.state == StateQueued {
		u.queued += sign
		return
	}
	u.running += sign
	u.boards += sign * len(j.boards)
}

// derived holds what is computed from a published world on first use, for
// the readers and transactions that start from it.
type derived struct {
	once   sync.Once
	owners map[string]ownerUse
}

// owners is what each owner's live jobs of w hold.
func (w *world) owners() map[string]ownerUse {
	if w.derived == nil {
		return ownersOf(w)
	}
	w.derived.once.Do(func() { w.derived.owners = ownersOf(w) })
	return w.derived.owners
}

func ownersOf(w *world) map[string]ownerUse {
	out := map[string]ownerUse{}
	w.jobs.each(func(_ int64, j *job) {
		u := out[j.owner]
		u.add(j, 1)
		out[j.owner] = u
	})
	return out
}

// ownerUse is what owner's live jobs hold as this transaction sees them:
// the committed world's figure, corrected by the jobs the transaction
// changed.
func (t *tx) ownerUse(owner string) ownerUse {
	u := t.base.owners()[owner]
	correct := func(id int64) {
		if j := t.base.job(id); j != nil && j.owner == owner {
			u.add(j, -1)
		}
		if j := t.job(id); j != nil && j.owner == owner {
			u.add(j, 1)
		}
	}
	for id := range t.jobs {
		correct(id)
	}
	for id := range t.ended { // never in t.jobs (endJob)
		correct(id)
	}
	return u
}

// limitsOwners reports whether a live-jobs or boards limit is set.
func limitsOwners(p config.PolicySettings) bool {
	return p.MaxLiveJobsPerOwner > 0 || p.MaxBoardsPerOwner > 0
}

// ownerLimitReason says why queued job j may not start while its owner
// holds u ("" = it may).
func ownerLimitReason(p config.PolicySettings, u ownerUse, j *job) string {
	if n := p.MaxLiveJobsPerOwner; n > 0 && u.running >= n {
		return fmt.Sprintf("owner limit: %s has %s holding boards, the most max_live_jobs_per_owner (%d) allows",
			j.owner, count(u.running, "job"), n)
	}
	n := p.MaxBoardsPerOwner
	if n == 0 {
		return ""
	}
	want := allocator.RequestedBoards(j.areq)
	switch {
	case want > n:
		return fmt.Sprintf("owner limit: the job asks for %d boards, more than max_boards_per_owner (%d)", want, n)
	case u.boards+want > n:
		return fmt.Sprintf("owner limit: %s holds %s; %d more would pass max_boards_per_owner (%d)",
			j.owner, count(u.boards, "board"), want, n)
	}
	return ""
}

// checkCreateLimits refuses a new job of an owner who has
// max_queued_jobs_per_owner queued jobs, or that alone asks for more
// boards than max_boards_per_owner.
func (t *tx) checkCreateLimits(nr newJobRequest) error {
	p := t.currentSettings().limits
	if n := p.MaxBoardsPerOwner; n > 0 {
		if want := allocator.RequestedBoards(nr.req.alloc()); want > n {
			return Invalid("owner limit: the job asks for %d boards, more than max_boards_per_owner (%d) allows any owner", want, n)
		}
	}
	if n := p.MaxQueuedJobsPerOwner; n > 0 {
		if q := t.ownerUse(nr.Owner).queued; q >= n {
			return Unavailable("owner limit: %s has %s, the most max_queued_jobs_per_owner (%d) allows; "+
				"wait for one to start or destroy one", nr.Owner, count(q, "queued job"), n)
		}
	}
	return nil
}

// count says "1 job", "2 jobs".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// limitKeepalive applies max_keepalive to a requested keepalive (nil =
// none asked for).
func limitKeepalive(k *time.Duration, p config.PolicySettings) *time.Duration {
	if p.MaxKeepalive == 0 || (k != nil && *k <= p.MaxKeepalive) {
		return k
	}
	return &p.MaxKeepalive
}

// durationExpiry is when max_job_duration ends a job created at created
// (nil: no limit).
func durationExpiry(created time.Time, p config.PolicySettings) *time.Time {
	if p.MaxJobDuration == 0 {
		return nil
	}
	return ptr(created.Add(p.MaxJobDuration))
}

// overdue reports whether job j has lived longer than max_job_duration.
func overdue(j *job, now time.Time, p config.PolicySettings) bool {
	end := durationExpiry(j.createdAt, p)
	return end != nil && now.After(*end)
}

// overdueJobs lists the live jobs of w older than max_job_duration.
func overdueJobs(w *world, now time.Time) []int64 {
	if w.settings.limits.MaxJobDuration == 0 {
		return nil
	}
	var ids []int64
	w.jobs.each(func(id int64, j *job) {
		if overdue(j, now, w.settings.limits) {
			ids = append(ids, id)
		}
	})
	return ids
}

// destroyOverdue destroys the jobs of ids that are still older than
// max_job_duration.
func (t *tx) destroyOverdue(ids []int64) error {
	p := t.currentSettings().limits
	for _, id := range ids {
		if j := t.job(id); j != nil && overdue(j, t.now, p) {
			reason := fmt.Sprintf(ReasonMaxDurationFormat, config.FormatDuration(p.MaxJobDuration))
			if err := t.destroyJob(id, &reason, "maximum job duration exceeded"); err != nil {
				return err
			}
		}
	}
	return nil
}
