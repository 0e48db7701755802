package scp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NumFPGAs is the number of FPGAs on a SpiNN-5 board (numbered 0..2).
const NumFPGAs = 3

// VersionRequest asks board for its firmware version (sver; docs/bmp.md, "Commands").
func VersionRequest(board int) (Request, error) {
	if err := checkBoard(board); err != nil {
		return Request{}, err
	}
	return Request{Board: board, Cmd: CmdVersion}, nil
}

// PowerRequest switches boards on or off. It is always addressed to
// board 0 of the frame, whatever the mask says, because BMPs mishandle power
// commands sent to other boards. stagger delays board b by stagger×b
// (millisecond resolution, at most 65.535 s); every reference sends 0.
func PowerRequest(on bool, boards []int, stagger time.Duration) (Request, error) {
	mask, err := BoardMask(boards)
	if err != nil {
		return Request{}, err
	}
	ms := stagger.Milliseconds()
	if stagger < 0 || ms > 0xFFFF {
		return Request{}, fmt.Errorf("scp: power stagger %v out of range 0..65.535s", stagger)
	}
	var state uint32
	if on {
		state = 1
	}
	return Request{Cmd: CmdPower, Args: [3]uint32{uint32(ms)<<16 | state, mask, 0}}, nil
}

// PowerArgs interprets the arguments of a power request: direction,
// stagger and board mask. An arg1 low byte above 1 is invalid (RC_ARG).
func PowerArgs(r Request) (on bool, stagger time.Duration, mask uint32, err error) {
	state := r.Args[0] & 0xFF
	if state > 1 {
		return false, 0, 0, fmt.Errorf("scp: power state %d, want 0 (off) or 1 (on)", state)
	}
	return state == 1, time.Duration(r.Args[0]>>16) * time.Millisecond, r.Args[1], nil
}

// FPGAWriteRequest writes one 32-bit register of one FPGA.
func FPGAWriteRequest(board, fpga int, addr, value uint32) (Request, error) {
	if err := checkFPGAAccess(board, fpga, addr); err != nil {
		return Request{}, err
	}
	data := binary.LittleEndian.AppendUint32(nil, value)
	return Request{Board: board, Cmd: CmdFPGAWrite, Args: [3]uint32{addr, 4, uint32(fpga)}, Data: data}, nil
}

// FPGAReadRequest reads one 32-bit register of one FPGA.
func FPGAReadRequest(board, fpga int, addr uint32) (Request, error) {
	if err := checkFPGAAccess(board, fpga, addr); err != nil {
		return Request{}, err
	}
	return Request{Board: board, Cmd: CmdFPGARead, Args: [3]uint32{addr, 4, uint32(fpga)}}, nil
}

// ParseFPGARead reads the register value from the payload of an OK reply to
// a one-register FPGA read, which is exactly 4 bytes.
func ParseFPGARead(payload []byte) (uint32, error) {
	if len(payload) != 4 {
		return 0, fmt.Errorf("scp: FPGA read reply has %d payload bytes, want 4", len(payload))
	}
	return binary.LittleEndian.Uint32(payload), nil
}

// ResetMode is the low byte of a CMD_RESET request.
type ResetMode uint8

// Reset modes; ResetFPGAs may be OR-ed with any of the first three.
const (
	ResetRelease ResetMode = 0 // release chip reset
	ResetHold    ResetMode = 1 // hold chips in reset
	ResetPulse   ResetMode = 2 // assert, wait ~1 ms, release
	ResetFPGAs   ResetMode = 4 // also reset the FPGAs
)

// ResetRequest resets the chips (and optionally FPGAs) of boards.
// spalloc never sends it ("reset" means power on again); it exists for
// operators' tools and the fake.
func ResetRequest(mode ResetMode, boards []int, delay time.Duration) (Request, error) {
	if mode&^ResetFPGAs > ResetPulse {
		return Request{}, fmt.Errorf("scp: reset mode %d invalid", mode)
	}
	mask, err := BoardMask(boards)
	if err != nil {
		return Request{}, err
	}
	ms := delay.Milliseconds()
	if delay < 0 || ms > 0xFFFF {
		return Request{}, fmt.Errorf("scp: reset delay %v out of range 0..65.535s", delay)
	}
	return Request{Cmd: CmdReset, Args: [3]uint32{uint32(ms)<<16 | uint32(mode), mask, 0}}, nil
}

// BoardMask turns board ids into the 32-bit mask of a power or reset
// request. Duplicates are harmless; an empty list or an id outside 0..31 is
// an error.
func BoardMask(boards []int) (uint32, error) {
	if len(boards) == 0 {
		return 0, fmt.Errorf("scp: no boards given")
	}
	var mask uint32
	for _, b := range boards {
		if err := checkBoard(b); err != nil {
			return 0, err
		}
		mask |= 1 << b
	}
	return mask, nil
}

// MaskBoards lists the boards whose bits are set in mask, in ascending order.
func MaskBoards(mask uint32) []int {
	var boards []int
	for b := 0; b <= MaxBoard; b++ {
		if mask&(1<<b) != 0 {
			boards = append(boards, b)
		}
	}
	return boards
}

func checkBoard(board int) error {
	if board < 0 || board > MaxBoard {
		return fmt.Errorf("scp: board %d out of range 0..%d", board, MaxBoard)
	}
	return nil
}

func checkFPGAAccess(board, fpga int, addr uint32) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	if fpga < 0 || fpga >= NumFPGAs {
		return fmt.Errorf("scp: FPGA %d out of range 0..%d", fpga, NumFPGAs-1)
	}
	if addr&3 != 0 {
		return fmt.Errorf("scp: FPGA register address %#x is not word aligned", addr)
	}
	return nil
}

// VersionInfo is the decoded answer to sver.
type VersionInfo struct {
	BoardID    uint8  // position of the answering board in its frame
	CANID      uint8  // id on the backplane CAN bus
	FrameID    uint8  // from the backplane EEPROM; not the frame coordinate
	CodeBlock  uint8  // flash block the firmware was started from
	BufferSize uint16 // max data bytes per SCP message
	BuildDate  uint32 // Unix seconds, 0 if unknown
	Name       string // e.g. "BC&MP"
	Hardware   string // e.g. "Spin5-BMP"
	Major      int
	Minor      int
	Patch      int
	Labels     string // anything after major.minor.patch
}

// Version gives the firmware version as text, e.g. "2.1.2".
func (v VersionInfo) Version() string {
	return fmt.Sprintf("%d.%d.%d%s", v.Major, v.Minor, v.Patch, v.Labels)
}

// String gives name, hardware and version, e.g. "BC&MP/Spin5-BMP 2.1.2".
func (v VersionInfo) String() string {
	return v.Name + "/" + v.Hardware + " " + v.Version()
}

// semanticVersionField in arg2's high half means "version in the strings".
const semanticVersionField = 0xFFFF

var versionRE = regexp.MustCompile(`^(\d{1,9})\.(\d{1,9})\.(\d{1,9})`)

// ParseVersionString splits "major.minor.patch[labels]", e.g. "2.1.2" or
// "2.0.0-rc1".
func ParseVersionString(s string) (major, minor, patch int, labels string, err error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, 0, "", fmt.Errorf("scp: version %q is not major.minor.patch", s)
	}
	major, _ = strconv.Atoi(m[1]) // cannot fail: at most 9 digits
	minor, _ = strconv.Atoi(m[2])
	patch, _ = strconv.Atoi(m[3])
	return major, minor, patch, s[len(m[0]):], nil
}

// ParseVersion decodes the payload of an OK reply to sver: 12 argument
// bytes, then "name/hardware\0" and, for current firmware, "version\0".
func ParseVersion(payload []byte) (VersionInfo, error) {
	if len(payload) < 12 {
		return VersionInfo{}, fmt.Errorf("scp: sver reply has %d payload bytes, want at least 12", len(payload))
	}
	v := VersionInfo{
		BoardID: payload[0], CANID: payload[1], FrameID: payload[2], CodeBlock: payload[3],
		BufferSize: binary.LittleEndian.Uint16(payload[4:]),
		BuildDate:  binary.LittleEndian.Uint32(payload[8:]),
	}
	field := binary.LittleEndian.Uint16(payload[6:])
	strs := bytes.SplitN(payload[12:], []byte{0}, 3)
	v.Name, v.Hardware, _ = strings.Cut(string(strs[0]), "/")
	if field != semanticVersionField {
		// Legacy firmware: the version is major*100 + minor.
		v.Major, v.Minor = int(field/100), int(field%100)
		return v, nil
	}
	if len(strs) < 2 {
		return VersionInfo{}, fmt.Errorf("scp: sver reply has no version string after %q", strs[0])
	}
	var err error
	v.Major, v.Minor, v.Patch, v.Labels, err = ParseVersionString(string(strs[1]))
	if err != nil {
		return VersionInfo{}, err
	}
	return v, nil
}

// Payload builds the OK sver payload for v in the current (semantic
// version) form; it is what the fake BMP answers.
func (v VersionInfo) Payload() []byte {
	b := []byte{v.BoardID, v.CANID, v.FrameID, v.CodeBlock}
	b = binary.LittleEndian.AppendUint16(b, v.BufferSize)
	b = binary.LittleEndian.AppendUint16(b, semanticVersionField)
	b = binary.LittleEndian.AppendUint32(b, v.BuildDate)
	b = append(b, v.Name+"/"+v.Hardware+"\x00"+v.Version()+"\x00"...)
	return b
}
