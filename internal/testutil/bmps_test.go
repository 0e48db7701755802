package testutil_test

import (
	"context"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// The real BMP workers power a job's board on the fake of its frame, the
// job becomes ready, and destroying it powers the board off.
func TestStartBMPs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := testutil.NewService(t, testutil.GridTOML(testutil.Grid{Name: "g", Width: 1, Height: 1}))
	bmps := testutil.StartBMPs(t, svc, testutil.BMPOptions{})
	fake := bmps.Fake("10.1.0.0")
	if fake == nil {
		t.Fatal("no fake for the machine's BMP 10.1.0.0")
	}
	if bmps.Fake("10.9.9.9") != nil {
		t.Fatal("a fake for an address that is not configured")
	}

	sub := svc.Subscribe()
	defer sub.Close()
	id, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "me", Shape: service.Shape{Kind: service.ShapeOneBoard}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := svc.JobState(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if st.State == service.StateReady {
			break
		}
		select {
		case <-sub.C:
			sub.Take()
		case <-ctx.Done():
			t.Fatalf("job still in state %v", st.State)
		}
	}
	info, err := svc.JobMachineInfo(ctx, id, "")
	if err != nil || info == nil || len(info.Boards) != 1 {
		t.Fatalf("machine info %+v, %v", info, err)
	}
	slot := info.Boards[0].Z // the grid puts board (0, 0, z) in slot z of frame (0, 0)
	if !fake.Power(slot) {
		t.Fatalf("board in slot %d is not powered on the fake", slot)
	}
	if err := svc.DestroyJob(ctx, id, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := fake.Await(ctx, func() bool { return !fake.Power(slot) }); err != nil {
		t.Fatalf("board in slot %d still powered after the job was destroyed: %v", slot, err)
	}
}
