package service

import "time"

// Observations that only the transports can make (a protocol request, a BMP
// round trip) reach the metrics through these interfaces, so that tcpserver
// and bmp never import httpapi: cmd/spallocd builds the metrics (httpapi.Metrics
// implements both) and hands them to each transport as a recorder.

// ProtocolRecorder receives v1 protocol observations from tcpserver.
type ProtocolRecorder interface {
	// ProtocolConnection is called with +1 when a client connects and -1
	// when its connection ends.
	ProtocolConnection(delta int)
	// ProtocolRequest is called once per request with the command name as
	// sent (unknown names are folded into "unknown" by the recorder) and
	// the error returned to the client, nil on success.
	ProtocolRequest(command string, err error)
}

// BMPRecorder receives BMP worker observations from package bmp.
type BMPRecorder interface {
	// BMPOperation is called once per operation outcome with how long the
	// BMP took (from the first packet sent to the final reply or give-up)
	// and the error, nil on success.
	BMPOperation(kind OpKind, took time.Duration, err error)
}

// NopRecorder discards every observation; transports use it when they were
// given no recorder.
type NopRecorder struct{}

func (NopRecorder) ProtocolConnection(int)                    {}
func (NopRecorder) ProtocolRequest(string, error)             {}
func (NopRecorder) BMPOperation(OpKind, time.Duration, error) {}

var (
	_ ProtocolRecorder = NopRecorder{}
	_ BMPRecorder      = NopRecorder{}
)
