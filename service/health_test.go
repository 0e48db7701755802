package service_test

import (
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// Health reflects writes (issue 12, item 5): after UnhealthyAfterFailedWrites
// transactions in a row fail inside the database (here: a full database),
// writes are reported failing; a failed write changes nothing; one write
// that commits makes them healthy again.
func TestHealthFollowsFailingWrites(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 2, 2)), testutil.WithLogger(discardLogger()))
	if h := e.Health(e.ctx); !h.DatabaseOK || !h.WritesOK || h.FailedWrites != 0 {
		t.Fatalf("health at start: %+v", h)
	}
	pages, err := e.DatabasePages(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.LimitDatabasePages(e.ctx, pages); err != nil { // the disk is full
		t.Fatal(err)
	}
	var created []int64
	var failures int
	for range 2000 { // until a write needs a new page
		id, err := e.CreateJob(e.ctx, request(one(), noKeepalive()))
		if err != nil {
			if service.KindOf(err) != service.KindInternal {
				t.Fatalf("create on a full database: %v, want an internal error", err)
			}
			failures++
			break
		}
		created = append(created, id)
	}
	if failures == 0 {
		t.Fatal("no write failed on a full database")
	}
	for failures < service.UnhealthyAfterFailedWrites {
		if h := e.Health(e.ctx); !h.WritesOK {
			t.Fatalf("writes unhealthy after %d failures: %+v", failures, h)
		}
		if _, err := e.CreateJob(e.ctx, request(one(), noKeepalive())); err == nil {
			t.Fatal("a create succeeded on the full database")
		}
		failures++
	}
	h := e.Health(e.ctx)
	if h.WritesOK || !h.DatabaseOK || h.FailedWrites != failures || !strings.Contains(h.LastWriteErr, "full") {
		t.Fatalf("health after %d failed writes: %+v", failures, h)
	}
	if jobs, _ := e.ListJobs(e.ctx); len(jobs) != len(created) {
		t.Fatalf("%d live jobs after %d creates succeeded", len(jobs), len(created))
	}
	e.consistent()

	if err := e.LimitDatabasePages(e.ctx, 0); err != nil { // space again
		t.Fatal(err)
	}
	e.create(one(), noKeepalive())
	if h := e.Health(e.ctx); !h.WritesOK || h.FailedWrites != 0 || h.LastWriteErr != "" {
		t.Fatalf("health after a write committed again: %+v", h)
	}
	e.consistent()
}
