package config

import "time"

// PolicySettings are the [policy] keys: the limits a facility sets on its
// users' jobs. A zero value means "no limit" (or "off"): a file without a
// [policy] table behaves as the server did before these keys existed.
type PolicySettings struct {
	// max_keepalive: a job's keepalive is at most this; a job that asks
	// for none (null) gets this one. 0 = no limit.
	MaxKeepalive time.Duration
	// max_job_duration: a job older than this (counted from its creation)
	// is destroyed. 0 = no limit.
	MaxJobDuration time.Duration
	// max_live_jobs_per_owner: jobs holding boards at once, per owner; a
	// further job waits. 0 = no limit.
	MaxLiveJobsPerOwner int
	// max_boards_per_owner: boards held at once, per owner; a job that
	// would pass it waits. 0 = no limit.
	MaxBoardsPerOwner int
	// max_queued_jobs_per_owner: queued jobs per owner; create_job is
	// refused beyond it. 0 = no limit.
	MaxQueuedJobsPerOwner int
	// sick_board_reports: problem reports within SickBoardWindow that take
	// a board out of service. 0 = off.
	SickBoardReports int
	// sick_board_window: how far back reports count.
	SickBoardWindow time.Duration
	// sick_board_destroys_job: a board taken out of service by reports
	// also ends the job holding it (else the job keeps it).
	SickBoardDestroysJob bool
}

type rawPolicy struct {
	MaxKeepalive          *duration `toml:"max_keepalive"`
	MaxJobDuration        *duration `toml:"max_job_duration"`
	MaxLiveJobsPerOwner   *int      `toml:"max_live_jobs_per_owner"`
	MaxBoardsPerOwner     *int      `toml:"max_boards_per_owner"`
	MaxQueuedJobsPerOwner *int      `toml:"max_queued_jobs_per_owner"`
	SickBoardReports      *int      `toml:"sick_board_reports"`
	SickBoardWindow       *duration `toml:"sick_board_window"`
	SickBoardDestroysJob  *bool     `toml:"sick_board_destroys_job"`
}

// DefaultSickBoardWindow is how far back problem reports count when
// sick_board_reports is set without a window.
const DefaultSickBoardWindow = time.Hour

func defaultPolicy() PolicySettings {
	return PolicySettings{SickBoardWindow: DefaultSickBoardWindow}
}

func resolvePolicy(rep reporter, r rawPolicy) PolicySettings {
	p := defaultPolicy()
	setDuration(rep, "max_keepalive", r.MaxKeepalive, &p.MaxKeepalive)
	setDuration(rep, "max_job_duration", r.MaxJobDuration, &p.MaxJobDuration)
	setInt(rep, "max_live_jobs_per_owner", r.MaxLiveJobsPerOwner, &p.MaxLiveJobsPerOwner)
	setInt(rep, "max_boards_per_owner", r.MaxBoardsPerOwner, &p.MaxBoardsPerOwner)
	setInt(rep, "max_queued_jobs_per_owner", r.MaxQueuedJobsPerOwner, &p.MaxQueuedJobsPerOwner)
	setInt(rep, "sick_board_reports", r.SickBoardReports, &p.SickBoardReports)
	setDuration(rep, "sick_board_window", r.SickBoardWindow, &p.SickBoardWindow)
	if r.SickBoardDestroysJob != nil {
		p.SickBoardDestroysJob = *r.SickBoardDestroysJob
	}
	return p
}
