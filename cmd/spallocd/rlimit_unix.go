//go:build unix

package main

import "syscall"

// openFileLimit is the process's limit on open files (the Go runtime has
// raised the soft limit to the hard one at start).
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	return l.Cur
}
