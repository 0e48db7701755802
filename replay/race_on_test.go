//go:build race

package replay

// raceEnabled: the race detector slows the service ~10x; the 2000-job
// replay then runs in the plain (non-race) pass of scripts/test.sh.
const raceEnabled = true
