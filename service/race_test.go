//go:build race

package service_test

// raceEnabled: the race detector slows SQLite (pure Go) several times; the
// heaviest tests run a smaller share of their cases under it (the full set
// runs without -race).
const raceEnabled = true
