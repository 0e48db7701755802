// Package tcpserver serves the v1 spalloc protocol (docs/protocol.md): JSON
// objects, one per line, over TCP, compatible with the public spalloc Python
// client and the original spalloc_server.
//
// It owns the wire: framing, parsing requests and binding their positional
// and keyword arguments, encoding replies with the exact field names of the
// protocol, per-connection notification subscriptions, and the fan-out of the
// service change feed to them. Every decision about jobs, machines and
// boards belongs to package service; this package never imports db, httpapi
// or bmp, and holds no domain state except what each connection watches.
//
// Concurrency: each connection has one reader goroutine, which parses and
// executes its requests one after another (so replies are in request
// order). It runs every complete line of one read and, when nothing is
// queued ahead of their replies, writes them itself with one non-blocking
// write: a polling client costs one read and one write per request and no
// hand-off between goroutines. Whatever the socket does not take at once
// waits in a bounded outgoing buffer that the connection's writer
// goroutine drains with a write deadline. Notifications are written the
// same way by one hub goroutine per server, which owns the server's single
// subscription to the change feed. One goroutine at a time writes a
// socket, and no lock is held across a write that may block.
//
// Bounds: a client whose replies not yet written (queued, in flight, or
// one large reply) pass MaxOutBuffer is disconnected; connections over
// MaxConnections, or over MaxConnectionsPerAddress from one address, are
// refused at once; and list_jobs, whose reply grows with the number of
// jobs, is answered for at most GOMAXPROCS-1 connections at a time (at least
// one), so that clients flooding it leave a processor to everyone else.
package tcpserver
