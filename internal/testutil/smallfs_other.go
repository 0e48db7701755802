//go:build !linux

package testutil

import "testing"

// SmallFS returns a folder on a small file system for full-disk tests; it
// needs Linux (a tmpfs mount), so elsewhere the test is skipped.
func SmallFS(t testing.TB, size int64) string {
	t.Helper()
	t.Skip("full-disk tests need a size-limited tmpfs, which this test helper mounts only on Linux")
	return ""
}
