package scp

import "fmt"

// Command is an SCP command code, the value of cmd_rc in a request.
type Command uint16

// Command codes a BMP understands (docs/bmp.md, "Commands"). The server uses
// CmdVersion, CmdFPGARead, CmdFPGAWrite and CmdPower; the others are listed
// so that logs and the fake can name them.
const (
	CmdVersion    Command = 0  // sver: version query
	CmdRead       Command = 2  // BMP memory read (unused)
	CmdWrite      Command = 3  // BMP memory write (unused)
	CmdFill       Command = 5  // (unused)
	CmdFPGARead   Command = 17 // link_read: FPGA register read
	CmdFPGAWrite  Command = 18 // link_write: FPGA register write
	CmdLED        Command = 25 // (unused)
	CmdIPTag      Command = 26 // (unused)
	CmdBMPInfo    Command = 48 // (unused)
	CmdFlashCopy  Command = 49 // (unused)
	CmdFlashErase Command = 50 // (unused)
	CmdFlashWrite Command = 51 // (unused)
	CmdBMPSF      Command = 53 // serial flash (unused)
	CmdBMPEE      Command = 54 // EEPROM (unused)
	CmdReset      Command = 55 // chip/FPGA reset (not used by spalloc)
	CmdXilinx     Command = 56 // FPGA load/init/reset (unused)
	CmdPower      Command = 57 // power boards on or off
)

var commandNames = map[Command]string{
	CmdVersion:    "sver",
	CmdRead:       "read",
	CmdWrite:      "write",
	CmdFill:       "fill",
	CmdFPGARead:   "fpga_read",
	CmdFPGAWrite:  "fpga_write",
	CmdLED:        "led",
	CmdIPTag:      "iptag",
	CmdBMPInfo:    "bmp_info",
	CmdFlashCopy:  "flash_copy",
	CmdFlashErase: "flash_erase",
	CmdFlashWrite: "flash_write",
	CmdBMPSF:      "bmp_sf",
	CmdBMPEE:      "bmp_ee",
	CmdReset:      "reset",
	CmdXilinx:     "xilinx",
	CmdPower:      "power",
}

// String names the command ("sver", "power", ...) or gives its number.
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("cmd(%d)", uint16(c))
}

// Known reports whether a real BMP firmware implements the command; any
// other code is answered with RCCmd.
func (c Command) Known() bool {
	_, ok := commandNames[c]
	return ok
}

// Result is an SCP result code, the value of cmd_rc in a reply.
type Result uint16

// Result codes (docs/bmp.md, "Result codes"). Only RCOK is success.
const (
	RCOK         Result = 0x80
	RCLen        Result = 0x81
	RCSum        Result = 0x82
	RCCmd        Result = 0x83
	RCArg        Result = 0x84
	RCPort       Result = 0x85
	RCTimeout    Result = 0x86
	RCRoute      Result = 0x87
	RCCPU        Result = 0x88
	RCDead       Result = 0x89
	RCBuf        Result = 0x8A
	RCP2PNoReply Result = 0x8B
	RCP2PReject  Result = 0x8C
	RCP2PBusy    Result = 0x8D
	RCP2PTimeout Result = 0x8E
	RCPktTx      Result = 0x8F
)

type resultInfo struct{ name, meaning string }

var resultInfos = map[Result]resultInfo{
	RCOK:         {"RC_OK", "completed"},
	RCLen:        {"RC_LEN", "bad packet length"},
	RCSum:        {"RC_SUM", "bad checksum"},
	RCCmd:        {"RC_CMD", "bad or unknown command"},
	RCArg:        {"RC_ARG", "invalid arguments"},
	RCPort:       {"RC_PORT", "bad port"},
	RCTimeout:    {"RC_TIMEOUT", "timeout inside the BMP"},
	RCRoute:      {"RC_ROUTE", "no route (board not on the CAN bus)"},
	RCCPU:        {"RC_CPU", "bad CPU"},
	RCDead:       {"RC_DEAD", "destination dead"},
	RCBuf:        {"RC_BUF", "no free buffers"},
	RCP2PNoReply: {"RC_P2P_NOREPLY", "target board did not answer"},
	RCP2PReject:  {"RC_P2P_REJECT", "open rejected"},
	RCP2PBusy:    {"RC_P2P_BUSY", "destination busy"},
	RCP2PTimeout: {"RC_P2P_TIMEOUT", "transfer timed out"},
	RCPktTx:      {"RC_PKT_TX", "packet transmit failed"},
}

// String gives the code's firmware name, e.g. "RC_ARG", or "RC_0x90" for a
// code the firmware does not define.
func (r Result) String() string {
	if i, ok := resultInfos[r]; ok {
		return i.name
	}
	return fmt.Sprintf("RC_%#02x", uint16(r))
}

// Meaning describes the code for people.
func (r Result) Meaning() string {
	if i, ok := resultInfos[r]; ok {
		return i.meaning
	}
	return "unrecognised return code"
}

// OK reports whether the code means success.
func (r Result) OK() bool { return r == RCOK }

// Retryable reports whether a request answered with this code may be sent
// again: the transient failures RC_LEN, RC_TIMEOUT, RC_P2P_NOREPLY,
// RC_P2P_BUSY and RC_P2P_TIMEOUT.
func (r Result) Retryable() bool {
	switch r {
	case RCLen, RCTimeout, RCP2PNoReply, RCP2PBusy, RCP2PTimeout:
		return true
	}
	return false
}

// Known reports whether the code is one of those above, the only codes a
// BMP answers with.
func (r Result) Known() bool {
	_, ok := resultInfos[r]
	return ok
}
