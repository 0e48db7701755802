package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spalloc/spallocd/service/geometry"
)

// defaultBMPPort is the BMP's SCP port; it only matters
// here to tell "10.0.0.1" and "10.0.0.1:17893" apart as the same BMP.
const defaultBMPPort = "17893"

type frameKey struct{ cabinet, frame int }

func (f frameKey) String() string {
	return fmt.Sprintf("(cabinet %d, frame %d)", f.cabinet, f.frame)
}

// assignAddresses gives boards and frames their addresses according to the
// form, then checks that every live board has an IP and every frame holding
// a live board a BMP (CONF-11, -12).
func (b *builder) assignAddresses() {
	switch b.form {
	case formStandard:
		b.schemeAddresses()
	case formExplicit:
		b.explicitBMPs()
	}
	b.checkLiveAddressed()
}

// schemeAddresses computes every positioned board's IP and a BMP for every
// frame that holds a positioned board (CONF-17).
func (b *builder) schemeAddresses() {
	scheme, ok := parseScheme(b.rep, b.raw.StandardIPs)
	if !ok {
		return
	}
	frames := map[frameKey]bool{}
	for i := range b.positions {
		p := &b.positions[i]
		ip, err := scheme.boardIP(p.Cabinet, p.Frame, p.BoardNum)
		if err != nil {
			b.rep.addf(p.field, "%v", err)
			continue
		}
		p.IP = ip
		f := frameKey{p.Cabinet, p.Frame}
		if frames[f] {
			continue
		}
		frames[f] = true
		bmpIP, err := scheme.bmpIP(f.cabinet, f.frame)
		if err != nil {
			b.rep.addf(p.field, "%v", err)
			continue
		}
		b.bmps = append(b.bmps, placedBMP{BMP: BMP{Cabinet: f.cabinet, Frame: f.frame, Address: bmpIP}, field: "standard_ips"})
	}
}

// explicitBMPs reads bmps = [{cf, ip}, ...].
func (b *builder) explicitBMPs() {
	seen := map[frameKey]string{}
	for i, e := range *b.raw.BMPs {
		field := fmt.Sprintf("bmps[%d]", i)
		if len(e.CF) != 2 || !coordinatesInRange(e.CF...) || e.CF[0] < 0 || e.CF[1] < 0 {
			b.rep.addf(field, "want cf = [cabinet, frame] (from 0 to %d), got %v", maxCoordinate, e.CF)
			continue
		}
		f := frameKey{e.CF[0], e.CF[1]}
		if first, ok := seen[f]; ok {
			b.rep.addf(field, "frame %v already has a BMP, given by %s", f, first)
			continue
		}
		seen[f] = field
		if err := checkBMPAddress(e.IP); err != nil {
			b.rep.addf(field+".ip", "%v", err)
			continue
		}
		b.bmps = append(b.bmps, placedBMP{BMP: BMP{Cabinet: f.cabinet, Frame: f.frame, Address: e.IP}, field: field})
	}
}

func (b *builder) checkLiveAddressed() {
	haveBMP := map[frameKey]bool{}
	for _, m := range b.bmps {
		haveBMP[frameKey{m.Cabinet, m.Frame}] = true
	}
	var noIP []geometry.Board
	var noBMP []frameKey
	for _, p := range b.positions {
		if b.dead[p.Board] {
			continue
		}
		if p.IP == "" {
			noIP = append(noIP, p.Board)
		}
		if f := (frameKey{p.Cabinet, p.Frame}); !haveBMP[f] {
			haveBMP[f] = true // report each frame once
			noBMP = append(noBMP, f)
		}
	}
	if len(noIP) > 0 && b.form == formExplicit {
		b.rep.addf("boards", "no ip for live boards %s", boardList(noIP))
	}
	if len(noBMP) > 0 && b.form == formExplicit {
		b.rep.addf("bmps", "no BMP for frames %s, which hold live boards", frameList(noBMP))
	}
}

func frameList(frames []frameKey) string {
	parts := make([]string, len(frames))
	for i, f := range frames {
		parts[i] = f.String()
	}
	return strings.Join(parts, ", ")
}

// checkBMPAddress accepts "host" or "host:port".
func checkBMPAddress(addr string) error {
	if err := checkHostText(addr); err != nil {
		return err
	}
	if !strings.Contains(addr, ":") {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("BMP address %q is neither a host nor host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("BMP address %q: the port must be a number from 1 to 65535", addr)
	}
	return nil
}

// checkBoardIP accepts a host name or IPv4 address without a port (clients
// boot the board through it).
func checkBoardIP(addr string) error {
	if err := checkHostText(addr); err != nil {
		return err
	}
	if strings.Contains(addr, ":") {
		return fmt.Errorf("board address %q must be a host name or IPv4 address without a port", addr)
	}
	return nil
}

func checkHostText(addr string) error {
	switch {
	case addr == "":
		return errors.New("the address is empty")
	case strings.ContainsAny(addr, " \t\r\n/"):
		return fmt.Errorf("%q is not a host name or IP address", addr)
	}
	return nil
}

// bmpIdentity is the form in which two BMP addresses are compared: lower
// case, with the default port made explicit.
func bmpIdentity(addr string) string {
	addr = strings.ToLower(addr)
	if host, port, err := net.SplitHostPort(addr); err == nil {
		return net.JoinHostPort(host, port)
	}
	return net.JoinHostPort(addr, defaultBMPPort)
}

// finish fills the Machine from what was read, sorted so that equal
// configurations give equal values.
func (b *builder) finish() {
	for _, d := range b.deadBoards {
		b.m.DeadBoards = append(b.m.DeadBoards, d.Board)
	}
	slices.SortFunc(b.m.DeadBoards, compareBoards)
	for _, d := range b.deadLinks {
		b.m.DeadLinks = append(b.m.DeadLinks, d.DeadLink)
	}
	slices.SortFunc(b.m.DeadLinks, compareDeadLinks)
	for _, m := range b.bmps {
		b.m.BMPs = append(b.m.BMPs, m.BMP)
	}
	slices.SortFunc(b.m.BMPs, func(a, c BMP) int {
		return cmp.Or(cmp.Compare(a.Cabinet, c.Cabinet), cmp.Compare(a.Frame, c.Frame))
	})
	for _, p := range b.positions {
		if b.dead[p.Board] {
			b.m.DeadBoardPositions = append(b.m.DeadBoardPositions, p.BoardPos)
		} else {
			b.m.Boards = append(b.m.Boards, p.BoardPos)
		}
	}
	slices.SortFunc(b.m.Boards, compareBoardPos)
	slices.SortFunc(b.m.DeadBoardPositions, compareBoardPos)
}

func compareBoards(a, c geometry.Board) int {
	return cmp.Or(cmp.Compare(a.X, c.X), cmp.Compare(a.Y, c.Y), cmp.Compare(a.Z, c.Z))
}

func compareDeadLinks(a, c DeadLink) int {
	return cmp.Or(compareBoards(a.Board, c.Board), cmp.Compare(a.Link, c.Link))
}

func compareBoardPos(a, c BoardPos) int { return compareBoards(a.Board, c.Board) }
