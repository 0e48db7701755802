// Package scp encodes and decodes the SDP/SCP datagrams that the spalloc
// server exchanges with SpiNN-5 Board Management Processors (BMPs) over UDP,
// as described in docs/bmp.md.
//
// It owns the byte layout (header, arguments, payloads), the command and
// result codes, sequence numbers on the wire, the version (sver) reply
// format and the mapping from a board link to its FPGA STOP register.
//
// It must not touch sockets, time-outs, retries or any server state: those
// belong to package bmp (the client) and bmp/fakebmp (the test double).
// Decoding never panics on any input; bad input gives an error that says
// what is wrong.
package scp
