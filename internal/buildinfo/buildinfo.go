// Package buildinfo is the one source of spallocd's version: the release
// number (set at link time by scripts/release.sh), the commit and the Go
// version it was built with. Every program and transport asks it; nothing
// else in the repository spells a version number.
package buildinfo

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
)

// devVersion is what a build without -ldflags says it is: the next release,
// marked as a development build.
const devVersion = "1.0.0-dev"

// Set at link time: go build -ldflags "-X $pkg.version=1.2.3 -X $pkg.commit=abc".
var (
	version = devVersion
	commit  = ""
)

// Version is the release number, e.g. "1.2.3", or "1.0.0-dev" for a
// development build.
func Version() string { return version }

// Protocol is the version answered to the v1 protocol's `version` command:
// MAJOR.MINOR.PATCH of Version. The spalloc client refuses anything outside
// 0.1.0 <= v < 7.0.0; a release number outside that range (which
// scripts/release.sh refuses to build) answers the development version's.
func Protocol() string {
	if p, ok := ProtocolOf(version); ok {
		return p
	}
	p, _ := ProtocolOf(devVersion)
	return p
}

var dotted = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// ProtocolOf returns the MAJOR.MINOR.PATCH part of v and whether the
// spalloc client accepts it (0.1.0 <= v < 7.0.0).
func ProtocolOf(v string) (string, bool) {
	m := dotted.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	var n [3]int
	for i := range n {
		x, err := strconv.Atoi(m[i+1])
		if err != nil {
			return "", false
		}
		n[i] = x
	}
	if n[0] >= 7 || (n[0] == 0 && n[1] == 0) {
		return "", false
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2]), true
}

// Commit is the source revision the binary was built from (with
// "-modified" when the tree had uncommitted changes), or "unknown".
func Commit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, modified := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if modified {
		rev += "-modified"
	}
	return rev
}

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }

// String is the one-line description printed by --version.
func String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s, %s/%s)", program, Version(), Commit(), GoVersion(), runtime.GOOS, runtime.GOARCH)
}
