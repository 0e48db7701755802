package scp

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary datagrams to every decoder. None may panic, and
// whatever decodes as a request must encode and decode back to itself.
func FuzzDecode(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzDecode: edge lengths.
	f.Add([]byte{})
	f.Add(make([]byte, HeaderLen))
	f.Add(make([]byte, ReplyHeaderLen))
	f.Add(make([]byte, RequestHeaderLen))
	f.Add(make([]byte, MaxDatagram+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := DecodeHeader(b); err == nil {
			_ = h.ReplyHeader()
			_ = EncodeReply(h, SeqAt(b), RCOK, nil)
		}
		if r, err := DecodeReply(b); err == nil {
			_, _ = ParseVersion(r.Payload)
			_, _ = ParseFPGARead(r.Payload)
			_ = r.RC.String() + r.RC.Meaning()
		}
		_, _ = ParseVersion(b)
		_, req, err := DecodeRequest(b)
		if err != nil {
			return
		}
		_, _, _, _ = PowerArgs(req)
		_ = req.Cmd.String()
		enc, err := req.Encode()
		if err != nil {
			t.Fatalf("decoded request %+v does not encode: %v", req, err)
		}
		_, back, err := DecodeRequest(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if back.Board != req.Board || back.Cmd != req.Cmd || back.Seq != req.Seq || back.Args != req.Args || !bytes.Equal(back.Data, req.Data) {
			t.Fatalf("round trip changed %+v into %+v", req, back)
		}
	})
}
