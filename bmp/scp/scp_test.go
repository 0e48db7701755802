package scp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// unhex turns "00 11 22" notation into bytes.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// must returns a function that unwraps a request builder's result.
func must(t *testing.T) func(Request, error) Request {
	return func(r Request, err error) Request {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// Requests byte for byte as the reference client sends them (docs/bmp.md,
// "Test vectors").
func TestRequestVectors(t *testing.T) {
	tests := []struct {
		name string
		req  func() (Request, error)
		seq  uint16
		want string
	}{
		{"(a) power on 0,1,2", func() (Request, error) { return PowerRequest(true, []int{0, 1, 2}, 0) }, 7,
			"00 00 87 FF 00 FF 00 00 00 00 39 00 07 00 01 00 00 00 07 00 00 00 00 00 00 00"},
		{"(b) power off 5", func() (Request, error) { return PowerRequest(false, []int{5}, 0) }, 8,
			"00 00 87 FF 00 FF 00 00 00 00 39 00 08 00 00 00 00 00 20 00 00 00 00 00 00 00"},
		{"(c) disable north of board 3", func() (Request, error) {
			fpga, addr, err := StopRegister(2)
			if err != nil {
				return Request{}, err
			}
			return FPGAWriteRequest(3, fpga, addr, StopValue(false))
		}, 9,
			"00 00 87 FF 03 FF 00 00 00 00 12 00 09 00 5C 00 00 00 04 00 00 00 02 00 00 00 01 00 00 00"},
		{"(e) read FLAG FPGA 1 board 3", func() (Request, error) { return FPGAReadRequest(3, 1, FlagRegister) }, 10,
			"00 00 87 FF 03 FF 00 00 00 00 11 00 0A 00 04 00 04 00 04 00 00 00 01 00 00 00"},
		{"(f) sver board 0", func() (Request, error) { return VersionRequest(0) }, 11,
			"00 00 87 FF 00 FF 00 00 00 00 00 00 0B 00 00 00 00 00 00 00 00 00 00 00 00 00"},
		{"(g) enable south of board 0", func() (Request, error) {
			fpga, addr, err := StopRegister(5)
			if err != nil {
				return Request{}, err
			}
			return FPGAWriteRequest(0, fpga, addr, StopValue(true))
		}, 12,
			"00 00 87 FF 00 FF 00 00 00 00 12 00 0C 00 5C 00 01 00 04 00 00 00 00 00 00 00 00 00 00 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t)(tc.req())
			r.Seq = tc.seq
			got, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.want)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n got % X\nwant % X", got, want)
			}
			// The fake decodes the same bytes back to the same request.
			h, back, err := DecodeRequest(want)
			if err != nil {
				t.Fatal(err)
			}
			if !h.ReplyWanted() || h.DstPort != 0 {
				t.Errorf("header %+v: want reply bit and port 0", h)
			}
			if back.Board != r.Board || back.Cmd != r.Cmd || back.Seq != r.Seq || back.Args != r.Args || !bytes.Equal(back.Data, r.Data) {
				t.Errorf("decoded %+v, want %+v", back, r)
			}
		})
	}
}

// Replies in every form the reference client accepts (the fake's, real
// firmware's, the original's test double's): each decodes to the same result
// and sequence, and the canonical form is what EncodeReply builds.
func TestReplyVectors(t *testing.T) {
	tests := []struct {
		name      string
		request   string // request the reply answers (for the canonical form)
		reply     string
		canonical bool
		rc        Result
		seq       uint16
		payload   string
	}{
		{"(d) canonical", "00 00 87 FF 00 FF 00 00 00 00 39 00 07 00 01 00 00 00 07 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 07 00", true, RCOK, 7, ""},
		{"(d) real firmware", "", "00 00 07 08 E0 00 00 00 00 00 80 00 07 00", false, RCOK, 7, ""},
		{"(d) firmware with garbage padding", "", "5A A5 07 08 E0 00 00 00 00 00 80 00 07 00", false, RCOK, 7, ""},
		{"(d) mock_bmp.py", "", "00 00 07 FF 00 FF 00 00 00 00 80 00 07 00", false, RCOK, 7, ""},
		{"(b) OK", "00 00 87 FF 00 FF 00 00 00 00 39 00 08 00 00 00 00 00 20 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 08 00", true, RCOK, 8, ""},
		{"(c) OK", "00 00 87 FF 03 FF 00 00 00 00 12 00 09 00 5C 00 00 00 04 00 00 00 02 00 00 00 01 00 00 00",
			"00 00 07 FF FF 03 00 00 00 00 80 00 09 00", true, RCOK, 9, ""},
		{"(c) RC_ARG", "00 00 87 FF 03 FF 00 00 00 00 12 00 09 00 5C 00 00 00 04 00 00 00 02 00 00 00 01 00 00 00",
			"00 00 07 FF FF 03 00 00 00 00 84 00 09 00", true, RCArg, 9, ""},
		{"(c) real firmware via CAN", "", "00 00 07 08 E0 03 00 00 00 00 80 00 09 00", false, RCOK, 9, ""},
		{"(e) OK FLAG=1", "00 00 87 FF 03 FF 00 00 00 00 11 00 0A 00 04 00 04 00 04 00 00 00 01 00 00 00",
			"00 00 07 FF FF 03 00 00 00 00 80 00 0A 00 01 00 00 00", true, RCOK, 10, "01 00 00 00"},
		{"(g) OK", "00 00 87 FF 00 FF 00 00 00 00 12 00 0C 00 5C 00 01 00 04 00 00 00 00 00 00 00 00 00 00 00",
			"00 00 07 FF FF 00 00 00 00 00 80 00 0C 00", true, RCOK, 12, ""},
		{"(f) sver", "00 00 87 FF 00 FF 00 00 00 00 00 00 0B 00 00 00 00 00 00 00 00 00 00 00 00 00",
			sverReply, true, RCOK, 11, sverPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := unhex(t, tc.reply)
			r, err := DecodeReply(raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.RC != tc.rc || r.Seq != tc.seq || !bytes.Equal(r.Payload, unhex(t, tc.payload)) {
				t.Fatalf("decoded rc=%v seq=%d payload=% X, want rc=%v seq=%d payload=%s", r.RC, r.Seq, r.Payload, tc.rc, tc.seq, tc.payload)
			}
			if !tc.canonical {
				return
			}
			h, req, err := DecodeRequest(unhex(t, tc.request))
			if err != nil {
				t.Fatal(err)
			}
			got := EncodeReply(h, req.Seq, tc.rc, r.Payload)
			if !bytes.Equal(got, raw) {
				t.Fatalf("canonical reply\n got % X\nwant % X", got, raw)
			}
		})
	}
}

const sverPayload = `00 00 00 00  00 01 FF FF  00 00 00 00
	42 43 26 4D 50 2F 53 70 69 6E 35 2D 42 4D 50 00  32 2E 31 2E 32 00`

const sverReply = "00 00 07 FF FF 00 00 00 00 00 80 00 0B 00 " + sverPayload

// (f): rig's decoding of the sver reply, and the fake's encoding of it.
func TestVersionVector(t *testing.T) {
	r, err := DecodeReply(unhex(t, sverReply))
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseVersion(r.Payload)
	if err != nil {
		t.Fatal(err)
	}
	want := VersionInfo{BufferSize: 256, Name: "BC&MP", Hardware: "Spin5-BMP", Major: 2, Minor: 1, Patch: 2}
	if v != want {
		t.Fatalf("got %+v\nwant %+v", v, want)
	}
	if v.String() != "BC&MP/Spin5-BMP 2.1.2" {
		t.Errorf("String() = %q", v.String())
	}
	if got := want.Payload(); !bytes.Equal(got, unhex(t, sverPayload)) {
		t.Errorf("Payload()\n got % X\nwant % X", got, unhex(t, sverPayload))
	}
}

func TestParseVersionForms(t *testing.T) {
	args := func(field string) string { return "03 04 05 01  00 01 " + field + "  10 00 00 00 " }
	tests := []struct {
		name    string
		payload string
		want    VersionInfo
		wantErr string
	}{
		{"labels kept", args("FF FF") + hex.EncodeToString([]byte("BC&MP/Spin5-BMP\x002.0.0-rc1\x00")),
			VersionInfo{BoardID: 3, CANID: 4, FrameID: 5, CodeBlock: 1, BufferSize: 256, BuildDate: 16,
				Name: "BC&MP", Hardware: "Spin5-BMP", Major: 2, Labels: "-rc1"}, ""},
		{"legacy version field 103", args("67 00") + hex.EncodeToString([]byte("BC&MP/Spin5-BMP\x00")),
			VersionInfo{BoardID: 3, CANID: 4, FrameID: 5, CodeBlock: 1, BufferSize: 256, BuildDate: 16,
				Name: "BC&MP", Hardware: "Spin5-BMP", Major: 1, Minor: 3}, ""},
		{"missing final NUL", args("FF FF") + hex.EncodeToString([]byte("BC&MP/Spin5-BMP\x001.3.0")),
			VersionInfo{BoardID: 3, CANID: 4, FrameID: 5, CodeBlock: 1, BufferSize: 256, BuildDate: 16,
				Name: "BC&MP", Hardware: "Spin5-BMP", Major: 1, Minor: 3}, ""},
		{"too short", "00 00 00", VersionInfo{}, "3 payload bytes"},
		{"no version string", args("FF FF") + hex.EncodeToString([]byte("BC&MP/Spin5-BMP")), VersionInfo{}, "no version string"},
		{"bad version string", args("FF FF") + hex.EncodeToString([]byte("BC&MP/Spin5-BMP\x00two\x00")), VersionInfo{}, `"two"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVersion(unhex(t, tc.payload))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.want {
				t.Fatalf("got %+v\nwant %+v", v, tc.want)
			}
		})
	}
}

// Argument words of typical requests.
func TestFieldChecks(t *testing.T) {
	t.Run("power on 0,1,2", func(t *testing.T) {
		r := must(t)(PowerRequest(true, []int{0, 1, 2}, 0))
		if r.Args[0] != 1 || r.Args[1] != 7 || r.Board != 0 {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("power off 0,23", func(t *testing.T) {
		r := must(t)(PowerRequest(false, []int{0, 23}, 0))
		if r.Args[0] != 0 || r.Args[1] != 0x00800001 {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("power on all 24", func(t *testing.T) {
		var all []int
		for b := range 24 {
			all = append(all, b)
		}
		r := must(t)(PowerRequest(true, all, 0))
		if r.Args[1] != 0x00FFFFFF {
			t.Fatalf("mask %#x", r.Args[1])
		}
	})
	t.Run("power on with 0.5s stagger", func(t *testing.T) {
		r := must(t)(PowerRequest(true, []int{1}, 500*time.Millisecond))
		if r.Args[0] != 0x01F40001 {
			t.Fatalf("arg1 %#x", r.Args[0])
		}
		on, stagger, mask, err := PowerArgs(r)
		if err != nil || !on || stagger != 500*time.Millisecond || mask != 2 {
			t.Fatalf("PowerArgs = %v %v %#x %v", on, stagger, mask, err)
		}
	})
	t.Run("STOP write west board 7 disable", func(t *testing.T) {
		fpga, addr, err := StopRegister(3)
		if err != nil {
			t.Fatal(err)
		}
		r := must(t)(FPGAWriteRequest(7, fpga, addr, StopValue(false)))
		if r.Board != 7 || r.Args != [3]uint32{0x0001005C, 4, 1} || !bytes.Equal(r.Data, []byte{1, 0, 0, 0}) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("STOP write north_east board 0 enable", func(t *testing.T) {
		fpga, addr, err := StopRegister(1)
		if err != nil {
			t.Fatal(err)
		}
		r := must(t)(FPGAWriteRequest(0, fpga, addr, StopValue(true)))
		if r.Args[0] != 0x0001005C || r.Args[2] != 2 || !bytes.Equal(r.Data, []byte{0, 0, 0, 0}) {
			t.Fatalf("got %+v", r)
		}
	})
}

// BMP-01: every link's FPGA and STOP address.
func TestStopRegister(t *testing.T) {
	tests := []struct {
		link int
		name string
		fpga int
		addr uint32
	}{
		{0, "east", 0, 0x0000005C},
		{5, "south", 0, 0x0001005C},
		{4, "south_west", 1, 0x0000005C},
		{3, "west", 1, 0x0001005C},
		{2, "north", 2, 0x0000005C},
		{1, "north_east", 2, 0x0001005C},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fpga, addr, err := StopRegister(tc.link)
			if err != nil || fpga != tc.fpga || addr != tc.addr {
				t.Fatalf("StopRegister(%d) = %d, %#x, %v; want %d, %#x", tc.link, fpga, addr, err, tc.fpga, tc.addr)
			}
		})
	}
	type myLink int
	for _, bad := range []myLink{-1, 6} {
		if _, _, err := StopRegister(bad); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("StopRegister(%d) err = %v, want out of range", bad, err)
		}
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name string
		make func() (Request, error)
		want string
	}{
		{"no boards", func() (Request, error) { return PowerRequest(true, nil, 0) }, "no boards"},
		{"board 32", func() (Request, error) { return PowerRequest(true, []int{32}, 0) }, "board 32 out of range"},
		{"negative board", func() (Request, error) { return VersionRequest(-1) }, "board -1 out of range"},
		{"stagger too long", func() (Request, error) { return PowerRequest(true, []int{1}, 70*time.Second) }, "stagger"},
		{"negative stagger", func() (Request, error) { return PowerRequest(true, []int{1}, -time.Second) }, "stagger"},
		{"fpga 3", func() (Request, error) { return FPGAReadRequest(0, 3, 0) }, "FPGA 3 out of range"},
		{"unaligned", func() (Request, error) { return FPGAWriteRequest(0, 0, 0x5D, 1) }, "not word aligned"},
		{"reset mode 3", func() (Request, error) { return ResetRequest(3, []int{0}, 0) }, "reset mode 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.make()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := (Request{Data: make([]byte, 257)}).Encode(); err == nil || !strings.Contains(err.Error(), "257 data bytes") {
		t.Errorf("257 data bytes: err = %v", err)
	}
	if _, err := (Request{Board: 40}).Encode(); err == nil {
		t.Errorf("board 40 encoded without error")
	}
}

func TestResetRequest(t *testing.T) {
	r := must(t)(ResetRequest(ResetPulse|ResetFPGAs, []int{0, 2}, 100*time.Millisecond))
	if r.Cmd != CmdReset || r.Board != 0 || r.Args != [3]uint32{100<<16 | 6, 5, 0} {
		t.Fatalf("got %+v", r)
	}
}

func TestDecodeLengths(t *testing.T) {
	if _, _, err := DecodeRequest(make([]byte, 25)); !errors.Is(err, ErrShort) {
		t.Errorf("25-byte request: err = %v, want ErrShort", err)
	}
	if _, _, err := DecodeRequest(make([]byte, 283)); !errors.Is(err, ErrLong) {
		t.Errorf("283-byte request: err = %v, want ErrLong", err)
	}
	if _, _, err := DecodeRequest(make([]byte, 282)); err != nil {
		t.Errorf("282-byte request: %v", err)
	}
	if _, err := DecodeReply(make([]byte, 13)); !errors.Is(err, ErrShort) {
		t.Errorf("13-byte reply: err = %v, want ErrShort", err)
	}
	if _, err := DecodeHeader(make([]byte, 9)); !errors.Is(err, ErrShort) {
		t.Errorf("9-byte header: err = %v, want ErrShort", err)
	}
	if SeqAt([]byte{1, 2, 3}) != 0 || SeqAt(unhex(t, "00 00 07 FF FF 00 00 00 00 00 80 00 34 12")) != 0x1234 {
		t.Errorf("SeqAt wrong")
	}
}

func TestParseFPGARead(t *testing.T) {
	if v, err := ParseFPGARead([]byte{1, 2, 3, 4}); err != nil || v != 0x04030201 {
		t.Errorf("got %#x, %v", v, err)
	}
	for _, n := range []int{0, 3, 8} {
		if _, err := ParseFPGARead(make([]byte, n)); err == nil {
			t.Errorf("%d payload bytes accepted", n)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{RCOK.String(), "RC_OK"},
		{RCArg.String(), "RC_ARG"},
		{RCP2PNoReply.String(), "RC_P2P_NOREPLY"},
		{Result(0x90).String(), "RC_0x90"},
		{Result(0x90).Meaning(), "unrecognised return code"},
		{CmdPower.String(), "power"},
		{CmdFPGAWrite.String(), "fpga_write"},
		{Command(99).String(), "cmd(99)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	retryable := map[Result]bool{RCLen: true, RCTimeout: true, RCP2PNoReply: true, RCP2PBusy: true, RCP2PTimeout: true}
	for rc := Result(0x80); rc <= 0x8F; rc++ {
		if rc.Retryable() != retryable[rc] {
			t.Errorf("%v.Retryable() = %v", rc, rc.Retryable())
		}
	}
	if Command(99).Known() || !CmdVersion.Known() {
		t.Errorf("Known wrong")
	}
}

func TestMaskBoards(t *testing.T) {
	if got := MaskBoards(0x00800005); len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 23 {
		t.Errorf("MaskBoards = %v", got)
	}
}
