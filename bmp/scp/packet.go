package scp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire sizes (docs/bmp.md, "Datagram layout"). Offsets count the two
// padding bytes.
const (
	// Port is the UDP port of a BMP's SCP service.
	Port = 17893
	// MaxData is the largest data block one SCP message carries.
	MaxData = 256
	// HeaderLen is the shortest datagram with a header: padding and SDP header.
	HeaderLen = 10
	// ReplyHeaderLen is the shortest valid reply: header, cmd_rc and seq.
	ReplyHeaderLen = 14
	// RequestHeaderLen is the shortest valid request: reply header plus
	// the three argument words every request carries.
	RequestHeaderLen = 26
	// MaxDatagram is the largest datagram a BMP accepts (SDP length 280).
	MaxDatagram = RequestHeaderLen + MaxData
	// MaxBoard is the largest board id a frame's BMP can address.
	MaxBoard = 31
)

// SDP flag values.
const (
	FlagsReply   byte = 0x87 // request that wants a reply
	FlagsNoReply byte = 0x07 // what replies carry
	flagReplyBit byte = 0x80
	TagNone      byte = 0xFF // "no tag": the BMP allocates a transient one
	hostPortCPU  byte = 0xFF // host side: port 7, CPU 31
)

// Errors wrapped by the decoders, so callers can tell short from long input.
var (
	ErrShort = errors.New("datagram too short")
	ErrLong  = errors.New("datagram too long")
)

// Header is the SDP header of a datagram (bytes 2..9): routing fields that a
// BMP rewrites and a client ignores. Only the fake reads it.
type Header struct {
	Flags   byte
	Tag     byte
	DstPort byte // bits 7..5 of byte 4
	DstCPU  byte // bits 4..0 of byte 4: the target board
	SrcPort byte
	SrcCPU  byte
	DstY    byte
	DstX    byte
	SrcY    byte
	SrcX    byte
}

// ReplyWanted reports whether the sender asked for an answer (flags bit 7).
func (h Header) ReplyWanted() bool { return h.Flags&flagReplyBit != 0 }

// ReplyHeader is the canonical reply header for a request carrying h:
// reply bit cleared, tag kept, port/CPU and address pairs swapped.
func (h Header) ReplyHeader() Header {
	return Header{
		Flags:   h.Flags &^ flagReplyBit,
		Tag:     h.Tag,
		DstPort: h.SrcPort, DstCPU: h.SrcCPU,
		SrcPort: h.DstPort, SrcCPU: h.DstCPU,
		DstY: h.SrcY, DstX: h.SrcX,
		SrcY: h.DstY, SrcX: h.DstX,
	}
}

func portCPU(port, cpu byte) byte { return (port&7)<<5 | cpu&0x1F }

func (h Header) put(b []byte) {
	b[0], b[1] = 0, 0
	b[2] = h.Flags
	b[3] = h.Tag
	b[4] = portCPU(h.DstPort, h.DstCPU)
	b[5] = portCPU(h.SrcPort, h.SrcCPU)
	b[6], b[7] = h.DstY, h.DstX
	b[8], b[9] = h.SrcY, h.SrcX
}

// DecodeHeader reads the SDP header of any datagram of at least HeaderLen
// bytes. The padding bytes are ignored.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: %d bytes, an SDP header needs %d", ErrShort, len(b), HeaderLen)
	}
	return Header{
		Flags: b[2], Tag: b[3],
		DstPort: b[4] >> 5, DstCPU: b[4] & 0x1F,
		SrcPort: b[5] >> 5, SrcCPU: b[5] & 0x1F,
		DstY: b[6], DstX: b[7], SrcY: b[8], SrcX: b[9],
	}, nil
}

// Request is one SCP request as the host sends it. Board is the destination
// CPU field, which on a BMP selects the board in the frame.
type Request struct {
	Board int
	Cmd   Command
	Seq   uint16
	Args  [3]uint32
	Data  []byte
}

// Encode builds the datagram for r in the form every reference client
// sends: flags 0x87, tag 0xFF, destination port 0, source port 7/CPU
// 31, chip addresses 0, all three argument words.
func (r Request) Encode() ([]byte, error) {
	if r.Board < 0 || r.Board > MaxBoard {
		return nil, fmt.Errorf("scp: board %d out of range 0..%d", r.Board, MaxBoard)
	}
	if len(r.Data) > MaxData {
		return nil, fmt.Errorf("scp: %d data bytes, at most %d fit in one message", len(r.Data), MaxData)
	}
	b := make([]byte, RequestHeaderLen+len(r.Data))
	Header{Flags: FlagsReply, Tag: TagNone, DstCPU: byte(r.Board), SrcPort: 7, SrcCPU: 31}.put(b)
	binary.LittleEndian.PutUint16(b[10:], uint16(r.Cmd))
	binary.LittleEndian.PutUint16(b[12:], r.Seq)
	for i, a := range r.Args {
		binary.LittleEndian.PutUint32(b[14+4*i:], a)
	}
	copy(b[RequestHeaderLen:], r.Data)
	return b, nil
}

// DecodeRequest reads a request datagram: the header, and the command,
// sequence number, arguments and data. It fails with ErrShort below
// RequestHeaderLen bytes and ErrLong above MaxDatagram.
func DecodeRequest(b []byte) (Header, Request, error) {
	if len(b) > MaxDatagram {
		return Header{}, Request{}, fmt.Errorf("%w: %d bytes, a request has at most %d", ErrLong, len(b), MaxDatagram)
	}
	if len(b) < RequestHeaderLen {
		return Header{}, Request{}, fmt.Errorf("%w: %d bytes, a request needs at least %d", ErrShort, len(b), RequestHeaderLen)
	}
	h, _ := DecodeHeader(b) // cannot fail: length checked above
	r := Request{
		Board: int(h.DstCPU),
		Cmd:   Command(binary.LittleEndian.Uint16(b[10:])),
		Seq:   binary.LittleEndian.Uint16(b[12:]),
	}
	for i := range r.Args {
		r.Args[i] = binary.LittleEndian.Uint32(b[14+4*i:])
	}
	if len(b) > RequestHeaderLen {
		r.Data = append([]byte(nil), b[RequestHeaderLen:]...)
	}
	return h, r, nil
}

// Reply is what a client reads from a BMP's answer: only cmd_rc, the
// sequence number and the payload (bytes 14 on) matter: real firmware
// rewrites the rest and leaves the padding uninitialised.
type Reply struct {
	RC      Result
	Seq     uint16
	Payload []byte
}

// DecodeReply reads a reply datagram. Header bytes are ignored, as every
// reference client does; the payload is copied.
func DecodeReply(b []byte) (Reply, error) {
	if len(b) < ReplyHeaderLen {
		return Reply{}, fmt.Errorf("%w: %d bytes, a reply needs at least %d", ErrShort, len(b), ReplyHeaderLen)
	}
	if len(b) > MaxDatagram {
		return Reply{}, fmt.Errorf("%w: %d bytes, a reply has at most %d", ErrLong, len(b), MaxDatagram)
	}
	r := Reply{
		RC:  Result(binary.LittleEndian.Uint16(b[10:])),
		Seq: binary.LittleEndian.Uint16(b[12:]),
	}
	if len(b) > ReplyHeaderLen {
		r.Payload = append([]byte(nil), b[ReplyHeaderLen:]...)
	}
	return r, nil
}

// EncodeReply builds the canonical reply (the fake BMP's form) to a request
// that carried header req: zero padding, swapped header, result code, the
// request's sequence number, then the payload (empty for errors).
func EncodeReply(req Header, seq uint16, rc Result, payload []byte) []byte {
	b := make([]byte, ReplyHeaderLen+len(payload))
	req.ReplyHeader().put(b)
	binary.LittleEndian.PutUint16(b[10:], uint16(rc))
	binary.LittleEndian.PutUint16(b[12:], seq)
	copy(b[ReplyHeaderLen:], payload)
	return b
}

// SeqAt returns the sequence number of a datagram of at least 14 bytes, or
// 0 for a shorter one (which has none).
func SeqAt(b []byte) uint16 {
	if len(b) < ReplyHeaderLen {
		return 0
	}
	return binary.LittleEndian.Uint16(b[12:])
}
