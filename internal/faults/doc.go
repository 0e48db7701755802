// Package faults is spallocd's fault suite: tests that run the real
// spallocd and fakebmp programs as separate processes and do to them what a
// facility's machines, network, disks and clients can do — a second server
// on the same database, a sick link to a BMP (through internal/udpproxy),
// clients that never read, connections without end, damaged or foreign
// database files, configuration files built to hang a parser — and check
// that the server does what the README promises for each.
//
// It is a package of its own, not part of cmd/spallocd's tests, because it
// tests the programs together from the outside, as an operator meets them,
// and builds them once for the whole suite; it is internal because nothing
// outside the repository may depend on it. The helpers it uses (building
// and running the programs, the UDP proxy, a small file system for full-disk
// tests) live in internal/testutil and internal/udpproxy, so that other
// packages' end-to-end tests can use them too. It holds tests only.
//
// The suite runs with the rest under `go test ./...` (scripts/test.sh) and
// is skipped with -short. A test skips with a message only where the machine
// cannot do what it needs (e.g. mount a small tmpfs without root).
package faults
