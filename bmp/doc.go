// Package bmp talks to SpiNN-5 Board Management Processors over UDP: one
// Client per BMP (one frame), speaking the SCP commands of package bmp/scp
// with per-operation time-outs and retries, plus the power-on-and-check and
// link-stop procedures (docs/bmp.md).
//
// It owns its UDP sockets and their reader goroutines, sequence numbers and
// reply matching. It must not import the database, the TCP or HTTP
// transports, or decide what to do with the outcome: callers (the per-BMP
// workers) get per-board results and record them through the service.
package bmp
