package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, for conditions with no event to wait
// on (such as a goroutine reaching a lock or a log line), failing the test
// after 10 s.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
