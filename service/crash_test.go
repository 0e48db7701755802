package service_test

// Crash consistency (docs/architecture.md, "Rules of the house"): the
// database files copied right after any commit are what a killed process
// leaves behind. A fresh service on such a copy must find a consistent
// database in which every job handed out exists with the state it had, and
// must carry on (new ids, BMP operations redone).

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

func TestCrashConsistency(t *testing.T) {
	fewerChecksUnderRace()
	rapid.Check(t, func(rt *rapid.T) {
		m := newPropModel(t, rt)
		steps := map[string]func(*rapid.T){
			"create":   m.create,
			"destroy":  m.destroy,
			"power":    m.power,
			"time":     m.advance,
			"claim":    m.claim,
			"complete": m.complete,
			"reconfig": m.reconfigure,
		}
		rt.Repeat(map[string]func(*rapid.T){
			"step": func(rt *rapid.T) {
				name := rapid.SampledFrom([]string{"create", "create", "destroy", "power", "time", "claim", "complete", "complete", "reconfig"}).Draw(rt, "step")
				steps[name](rt)
				if rapid.IntRange(0, 3).Draw(rt, "crash here") == 0 {
					m.crashAndRecover(rt)
				}
			},
		})
	})
}

// crashAndRecover copies the database as a killed process leaves it and
// checks what a restarted server finds in the copy.
func (m *propModel) crashAndRecover(rt *rapid.T) {
	want := m.states(rt)
	dir := m.t.TempDir()
	copyDB(rt, m.svc.DBPath, filepath.Join(dir, "spalloc.db"))
	clock := testutil.NewFakeClock(m.svc.Clock.Now())
	svc, err := service.Open(context.Background(), service.Options{DBPath: filepath.Join(dir, "spalloc.db"), Clock: clock,
		Logger: discardLogger()})
	if err != nil {
		rt.Fatalf("reopen after crash: %v", err)
	}
	defer svc.Close()
	ctx := context.Background()
	if problems, err := svc.CheckConsistency(ctx); err != nil || len(problems) > 0 {
		rt.Fatalf("after crash: %v %v", problems, err)
	}
	for id, st := range want {
		got, err := svc.JobState(ctx, id, "")
		if err != nil || got.State != st {
			rt.Fatalf("after crash job %d is %v (%v), was %v", id, got.State, err, st)
		}
	}
	m.recoverAndGoOn(rt, svc)
}

// recoverAndGoOn: the recovered server redoes the pending operations and
// issues new ids.
func (m *propModel) recoverAndGoOn(rt *rapid.T, svc *service.Service) {
	ctx := context.Background()
	if _, err := svc.ApplyConfig(ctx, m.svc.Config); err != nil {
		rt.Fatalf("apply configuration after crash: %v", err)
	}
	testutil.CompleteAllOps(m.t, svc)
	id, err := svc.CreateJob(ctx, request(one(), noKeepalive()))
	if err != nil {
		rt.Fatal(err)
	}
	if n := len(m.order); n > 0 && id <= m.order[n-1] {
		rt.Fatalf("after crash new job id %d, but %d was already issued", id, m.order[n-1])
	}
	if problems, err := svc.CheckConsistency(ctx); err != nil || len(problems) > 0 {
		rt.Fatalf("after recovery: %v %v", problems, err)
	}
}

// copyDB copies the database file and its write-ahead log (the -shm index
// is rebuilt from the log on open).
func copyDB(rt *rapid.T, from, to string) {
	for _, suffix := range []string{"", "-wal"} {
		src, err := os.Open(from + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			rt.Fatal(err)
		}
		dst, err := os.Create(to + suffix)
		if err != nil {
			rt.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			rt.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			rt.Fatal(err)
		}
	}
}
