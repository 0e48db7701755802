//go:build !unix

package db

import "os"

// tryLock: this system has no flock; the lock is not enforced (spallocd is
// built for Unix; this keeps the package compiling elsewhere).
func tryLock(*os.File) (bool, error) { return true, nil }
