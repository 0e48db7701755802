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
//
// One test per numbered item of issue 12, named for what it shows:
// TestOneServerPerDatabase (1), TestBMPLinkFaultsHeal (2),
// TestClientsCannotExhaustMemory and BenchmarkNonReadingClients (3),
// TestConnectionsAreBounded (4), TestUnsafeStartRefused (5),
// TestConfigCannotHangOrOverflow (6); and TestStopWithinItsBound (a
// graceful stop keeps to the README's bound). The pieces for more:
//
//   - A sick BMP link: newRig starts a fakebmp process behind a proxy;
//     rig.proxy.SetFault(udpproxy.Both, udpproxy.Fault{Drop: 0.3}) (or Delay,
//     Truncate, Garble, per direction) changes the network while spallocd
//     runs, rig.proxy.Heal() ends it, rig.proxy.Stats() counts datagrams;
//     the board states are at GET /api/v1/machines/m (testutil.HTTPGet).
//   - A full disk (5, health): testutil.SmallFS(t, size) mounts a tmpfs of
//     that size for the test (skipped without root); give the rig's server
//     a database there (rig.db = filepath.Join(testutil.SmallFS(t, 8<<20),
//     "spalloc.db")) and fill the rest of it with a file to make every
//     write fail, remove the file to let them succeed again.
package faults
