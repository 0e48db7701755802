package service_test

import (
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// TestWriteFailuresAreCounted: a change that fails for an internal reason
// (here a bug: a panic inside the transaction) is counted in
// Stats.WriteFailures, which feeds the "writes failing" alert; a change
// refused because the request is wrong is not.
func TestWriteFailuresAreCounted(t *testing.T) {
	e := newEnv(t, testutil.GridTOML(grid("m", 1, 1)))
	if _, err := e.CreateJob(e.ctx, service.CreateJobRequest{Owner: ""}); service.KindOf(err) != service.KindInvalid {
		t.Fatalf("create_job without owner: %v, want an invalid-request error", err)
	}
	if err := e.WriteCall(e.ctx, func() { panic("a bug") }); service.KindOf(err) != service.KindInternal {
		t.Fatalf("a panicking change: %v, want an internal error", err)
	}
	st, err := e.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.WriteFailures != 1 {
		t.Errorf("WriteFailures = %d, want 1 (the panic, not the refused request)", st.WriteFailures)
	}
}
