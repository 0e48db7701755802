package testutil

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// SmallFS returns a folder on a file system of about size bytes (a tmpfs
// mounted for the test and unmounted when it ends), for tests of a full
// disk. Mounting needs root (CAP_SYS_ADMIN); without it the test is skipped
// with a message saying so.
func SmallFS(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if err != nil {
		t.Skipf("cannot mount a %d-byte tmpfs for a full-disk test (needs root or CAP_SYS_ADMIN; uid %d): %v", size, os.Getuid(), err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test tmpfs %s: %v", dir, err)
		}
	})
	return dir
}
