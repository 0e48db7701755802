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

// Eventually polls cond every 20 ms until it holds, failing the test with
// what (the condition in words) after within. It is WaitFor for conditions
// that ask a server process (over HTTP or the v1 protocol), which a 1 ms
// poll would keep busy.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
	}
}
