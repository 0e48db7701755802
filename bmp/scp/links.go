package scp

import "fmt"

// FPGA register addresses the server uses (docs/bmp.md, "FPGA registers").
const (
	// StopOffset is the STOP register's offset inside a link's bank:
	// 1 = stop sending on the link, 0 = normal.
	StopOffset uint32 = 0x5C
	// BankStride separates the register banks of an FPGA's two links.
	BankStride uint32 = 0x10000
	// FlagRegister is the FPGA-wide FLAG register; its bits 1..0 hold the
	// FPGA's own id (0, 1 or 2) once its bitfile is loaded.
	FlagRegister uint32 = 0x00040004
	// FlagIDMask selects the FPGA id bits of FLAG.
	FlagIDMask uint32 = 3
)

// NumLinks is the number of board-to-board links of a board.
const NumLinks = 6

// linkBanks maps a link direction (east=0, north_east=1, north=2, west=3,
// south_west=4, south=5) to FPGA and bank (BMP-01, docs/bmp.md).
var linkBanks = [NumLinks]struct{ fpga, bank int }{
	0: {0, 0}, // east
	1: {2, 1}, // north_east
	2: {2, 0}, // north
	3: {1, 1}, // west
	4: {1, 0}, // south_west
	5: {0, 1}, // south
}

// StopRegister gives the FPGA and STOP register address that control a
// board's link (BMP-01). link is a direction 0..5 (east .. south); any
// integer type works, e.g. geometry.Link.
func StopRegister[L ~int](link L) (fpga int, addr uint32, err error) {
	if link < 0 || int(link) >= NumLinks {
		return 0, 0, fmt.Errorf("scp: link %d out of range 0..%d", int(link), NumLinks-1)
	}
	lb := linkBanks[link]
	return lb.fpga, uint32(lb.bank)*BankStride + StopOffset, nil
}

// StopValue is the STOP register value that enables (0) or disables (1) a
// link.
func StopValue(enable bool) uint32 {
	if enable {
		return 0
	}
	return 1
}
