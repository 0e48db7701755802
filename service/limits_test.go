package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// oneMachine is machine "m" of w x 1 triads with a [policy] table.
func oneMachine(policy string, w int) string {
	return "[policy]\n" + policy + "\n" + testutil.GridTOML(testutil.Grid{Name: "m", Width: w, Height: 1})
}

func (e *env) keepaliveOf(id int64) *time.Duration {
	e.t.Helper()
	return e.status(id).Keepalive
}

func durationIs(d *time.Duration, want time.Duration) bool { return d != nil && *d == want }

// max_keepalive caps the keepalive a job asks for and replaces "none"; the
// job times out by it; a reload applies it to new jobs only; without it a
// job may still ask for none.
func TestMaxKeepalive(t *testing.T) {
	e := newEnv(t, oneMachine(`max_keepalive = "30s"`, 1))
	long := e.create(one(), keepalive(60))
	never := e.create(one(), noKeepalive())
	short := e.create(one(), keepalive(10))
	for id, want := range map[int64]time.Duration{long: 30 * time.Second, never: 30 * time.Second, short: 10 * time.Second} {
		if k := e.keepaliveOf(id); !durationIs(k, want) {
			t.Errorf("job %d: keepalive %v, want %v", id, k, want)
		}
	}
	e.Restart(t)
	if k := e.keepaliveOf(never); !durationIs(k, 30*time.Second) {
		t.Errorf("after a restart: keepalive %v, want 30s", k)
	}

	e.Apply(t, oneMachine(`max_keepalive = "5s"`, 1))
	if k := e.keepaliveOf(long); !durationIs(k, 30*time.Second) {
		t.Errorf("a running job's keepalive after a reload: %v, want 30s kept", k)
	}
	if k := e.keepaliveOf(e.create(one(), keepalive(60))); !durationIs(k, 5*time.Second) {
		t.Errorf("a new job after the reload: keepalive %v, want 5s", k)
	}

	e.Clock.Advance(31 * time.Second)
	e.tick()
	e.wantDestroyed(never, service.ReasonTimedOut)

	e.Apply(t, oneMachine("", 1))
	if k := e.keepaliveOf(e.create(one(), noKeepalive())); k != nil {
		t.Errorf("without max_keepalive: keepalive %v, want none", k)
	}
	e.consistent()
}

// max_job_duration destroys jobs older than it, queued or running, with a
// reason that says so; the admin API shows when; a reload that lowers it
// ends the jobs already older at the next check; it holds across a
// restart.
func TestMaxJobDuration(t *testing.T) {
	e := newEnv(t, oneMachine(`max_job_duration = "1h"`, 1))
	running := e.create(rect(1, 1), noKeepalive())
	queued := e.create(one(), noKeepalive()) // waits: the machine is full
	e.wantState(queued, service.StateQueued)
	d, err := e.JobDetail(e.ctx, running)
	if err != nil {
		t.Fatal(err)
	}
	if d.DurationExpiresAt == nil || !d.DurationExpiresAt.Equal(testutil.Epoch.Add(time.Hour)) {
		t.Errorf("duration expiry %v, want %v", d.DurationExpiresAt, testutil.Epoch.Add(time.Hour))
	}

	e.Clock.Advance(time.Hour)
	e.tick()
	e.wantState(running, service.StatePower)
	e.Restart(t)
	e.Clock.Advance(time.Second)
	e.tick()
	e.wantDestroyed(running, "Job exceeded the maximum duration of 1h.")
	e.wantDestroyed(queued, "Cancelled: Job exceeded the maximum duration of 1h.")
	if d, _ := e.JobDetail(e.ctx, running); d.DurationExpiresAt != nil {
		t.Errorf("a destroyed job has a duration expiry %v", d.DurationExpiresAt)
	}

	e.finish() // the boards' power-off
	later := e.create(one(), noKeepalive())
	e.Clock.Advance(30 * time.Minute)
	e.Apply(t, oneMachine(`max_job_duration = "20m"`, 1))
	e.wantState(later, service.StatePower) // not at the reload itself
	e.tick()
	e.wantDestroyed(later, "Job exceeded the maximum duration of 20m.")

	e.Apply(t, oneMachine("", 1))
	forever := e.create(one(), noKeepalive())
	if d, _ := e.JobDetail(e.ctx, forever); d.DurationExpiresAt != nil {
		t.Errorf("without max_job_duration: expiry %v", d.DurationExpiresAt)
	}
	e.Clock.Advance(10000 * time.Hour)
	e.tick()
	e.wantState(forever, service.StatePower)
	e.consistent()
}

// max_live_jobs_per_owner: an owner's further job waits with the reason and
// does not hold up other owners' jobs behind it; it starts as soon as one
// of the owner's jobs ends, or the limit is raised; a lower limit leaves
// running jobs alone.
func TestMaxLiveJobsPerOwner(t *testing.T) {
	e := newEnv(t, oneMachine("max_live_jobs_per_owner = 2", 2))
	a1 := e.create(one(), owner("alice"))
	a2 := e.create(one(), owner("alice"))
	a3 := e.create(one(), owner("alice"))
	b1 := e.create(one(), owner("bob"))
	e.wantState(a3, service.StateQueued)
	e.wantState(b1, service.StatePower)
	want := "owner limit: alice has 2 jobs holding boards, the most max_live_jobs_per_owner (2) allows"
	if got := e.waiting(a3); got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}
	e.Restart(t)
	e.wantState(a3, service.StateQueued)
	e.destroy(a1)
	e.wantState(a3, service.StatePower)

	a4 := e.create(one(), owner("alice"))
	e.wantState(a4, service.StateQueued)
	e.Apply(t, oneMachine("max_live_jobs_per_owner = 3", 2))
	e.wantState(a4, service.StatePower)
	e.Apply(t, oneMachine("max_live_jobs_per_owner = 1", 2))
	for _, id := range []int64{a2, a3, a4} {
		e.wantState(id, service.StatePower)
	}
	a5 := e.create(one(), owner("alice"))
	e.wantState(a5, service.StateQueued)
	e.consistent()
}

// max_boards_per_owner counts the boards an owner holds plus those a job
// asks for; a job that alone asks for more is refused at create_job.
func TestMaxBoardsPerOwner(t *testing.T) {
	e := newEnv(t, oneMachine("max_boards_per_owner = 4", 3))
	triad := e.create(rect(1, 1), owner("alice")) // 3 boards
	two := e.create(nb(2), owner("alice"))
	single := e.create(one(), owner("alice")) // 3 + 1 = 4: starts, passing the one above
	e.wantState(triad, service.StatePower)
	e.wantState(two, service.StateQueued)
	e.wantState(single, service.StatePower)
	if got, want := e.waiting(two), "owner limit: alice holds 4 boards; 2 more would pass max_boards_per_owner (4)"; got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}
	_, err := e.CreateJob(e.ctx, request(rect(2, 1), owner("bob")))
	if service.KindOf(err) != service.KindInvalid ||
		service.UserMessage(err) != "owner limit: the job asks for 6 boards, more than max_boards_per_owner (4) allows any owner" {
		t.Errorf("a job of 6 boards: %v", err)
	}
	e.destroy(triad)
	e.wantState(two, service.StatePower)

	// Lowered below what a queued job asks for: it waits, saying so, while
	// running jobs over the new limit keep their boards.
	e.drain("m", "tests")
	big := e.create(nb(3), owner("carol"))
	e.Apply(t, oneMachine("max_boards_per_owner = 2", 3))
	e.wantState(single, service.StatePower)
	e.wantState(two, service.StatePower)
	if got := e.waiting(big); !strings.Contains(got, "machine drained: tests (m)") {
		t.Errorf("waiting reason %q, want the drain", got)
	}
	if err := e.UndrainMachine(e.ctx, "m"); err != nil {
		t.Fatal(err)
	}
	e.wantState(big, service.StateQueued)
	if got, want := e.waiting(big), "owner limit: the job asks for 3 boards, more than max_boards_per_owner (2)"; got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}
	e.consistent()
}

// max_queued_jobs_per_owner refuses create_job, naming the limit; jobs that
// run do not count.
func TestMaxQueuedJobsPerOwner(t *testing.T) {
	e := newEnv(t, oneMachine("max_queued_jobs_per_owner = 1", 1))
	e.create(rect(1, 1), owner("alice"))
	queued := e.create(one(), owner("alice"))
	e.wantState(queued, service.StateQueued)
	_, err := e.CreateJob(e.ctx, request(one(), owner("alice")))
	want := "owner limit: alice has 1 queued job, the most max_queued_jobs_per_owner (1) allows; wait for one to start or destroy one"
	if service.KindOf(err) != service.KindUnavailable || service.UserMessage(err) != want {
		t.Fatalf("third job: %v, want %q", err, want)
	}
	if id := e.create(one(), owner("bob")); e.state(id) != service.StateQueued {
		t.Errorf("bob's job refused or not queued")
	}
	e.destroy(queued)
	e.create(one(), owner("alice"))
	e.Apply(t, oneMachine("", 1))
	for range 3 {
		e.create(one(), owner("alice"))
	}
	e.consistent()
	if jobs, _, _ := e.Jobs(e.ctx, service.JobFilter{Owner: "alice", States: []service.JobState{service.StateQueued}}); len(jobs) != 4 {
		t.Errorf("alice has %d queued jobs without the limit, want 4", len(jobs))
	}
}
