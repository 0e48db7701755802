package config

import (
	"fmt"
	"math"
	"net/netip"
)

// ipScheme is the standard SpiNNaker IP scheme (CONF-17): an address
// is base + cabinet·cabinetStride + frame·frameStride + board·boardStride +
// offset, every term read as a 32-bit number.
type ipScheme struct {
	base, cabinet, frame, board, bmpOffset, spinnakerOffset uint32
}

// schemeDefaults are the defaults of CONF-17, in rawStandardIPs key order.
var schemeDefaults = [6]string{"192.168.0.0", "0.0.5.0", "0.0.1.0", "0.0.0.8", "0.0.0.0", "0.0.0.1"}

// parseScheme reads standard_ips, reporting malformed addresses.
func parseScheme(rep reporter, r *rawStandardIPs) (ipScheme, bool) {
	var s ipScheme
	fields := []struct {
		key string
		val *string
		dst *uint32
	}{
		{"base_ip", r.BaseIP, &s.base},
		{"cabinet_stride", r.CabinetStride, &s.cabinet},
		{"frame_stride", r.FrameStride, &s.frame},
		{"board_stride", r.BoardStride, &s.board},
		{"bmp_offset", r.BMPOffset, &s.bmpOffset},
		{"spinnaker_offset", r.SpinnakerOffset, &s.spinnakerOffset},
	}
	ok := true
	for i, f := range fields {
		text := schemeDefaults[i]
		if f.val != nil {
			text = *f.val
		}
		v, err := parseIPv4(text)
		if err != nil {
			rep.addf("standard_ips."+f.key, "%v", err)
			ok = false
		}
		*f.dst = v
	}
	return s, ok
}

// parseIPv4 reads a dotted quad as a number; anything else (host names,
// three or five parts, parts above 255, signs) is malformed (CONF-18).
func parseIPv4(s string) (uint32, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is4() {
		return 0, fmt.Errorf("malformed IPv4 address %q", s)
	}
	b := addr.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// bmpIP is the address of the BMP of a frame: that of its board 0 plus the
// BMP offset.
func (s ipScheme) bmpIP(cabinet, frame int) (string, error) {
	return s.address(cabinet, frame, 0, s.bmpOffset)
}

// boardIP is the SpiNNaker (Ethernet) address of a board.
func (s ipScheme) boardIP(cabinet, frame, board int) (string, error) {
	return s.address(cabinet, frame, board, s.spinnakerOffset)
}

func (s ipScheme) address(c, f, b int, offset uint32) (string, error) {
	sum := uint64(s.base) + uint64(c)*uint64(s.cabinet) + uint64(f)*uint64(s.frame) +
		uint64(b)*uint64(s.board) + uint64(offset)
	if c < 0 || f < 0 || b < 0 || sum > math.MaxUint32 {
		return "", fmt.Errorf("the standard IP scheme gives no IPv4 address for cabinet %d, frame %d, board %d (past 255.255.255.255)", c, f, b)
	}
	v := uint32(sum)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), nil
}
