package replay

import (
	"fmt"
	"net/netip"

	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// Synthetic address ranges of replay machines: nobody connects to them, they
// only have to be unique.
var (
	boardIPBase = netip.MustParseAddr("10.0.0.0")
	bmpIPBase   = netip.MustParseAddr("10.128.0.0")
)

// ServiceConfig builds the service configuration of a machine file: board
// (x, y, z) sits at cabinet x, frame y, board z, one BMP per frame, every
// board and BMP with an address of its own; boards are reused
// seconds_before_free after their power-off completes.
func ServiceConfig(ms *Machines) (*config.Config, error) {
	cfg := config.Default()
	cfg.Server.FreeDelay = ms.SecondsBeforeFree
	if ms.Policy != "" {
		cfg.Scheduler.Policy = ms.Policy
	}
	cfg.Path = ms.Path
	nBoards, nBMPs := 0, 0
	for i := range ms.Machines {
		m := &ms.Machines[i]
		cm := config.Machine{
			Name:   m.Name,
			Tags:   append([]string(nil), m.Tags...),
			Width:  m.Width,
			Height: m.Height,
		}
		dead := map[geometry.Board]bool{}
		for _, b := range m.DeadBoards {
			dead[b] = true
			cm.DeadBoards = append(cm.DeadBoards, b)
		}
		for _, l := range m.DeadLinks {
			cm.DeadLinks = append(cm.DeadLinks, config.DeadLink{Board: l.Board, Link: l.Link})
		}
		for x := 0; x < m.Width; x++ {
			for y := 0; y < m.Height; y++ {
				addr, err := nthAddr(bmpIPBase, nBMPs)
				if err != nil {
					return nil, err
				}
				nBMPs++
				cm.BMPs = append(cm.BMPs, config.BMP{Cabinet: x, Frame: y, Address: addr})
				for z := 0; z < 3; z++ {
					b := geometry.Board{X: x, Y: y, Z: z}
					ip, err := nthAddr(boardIPBase, nBoards)
					if err != nil {
						return nil, err
					}
					nBoards++
					pos := config.BoardPos{Board: b, Cabinet: x, Frame: y, BoardNum: z, IP: ip}
					if dead[b] {
						cm.DeadBoardPositions = append(cm.DeadBoardPositions, pos)
					} else {
						cm.Boards = append(cm.Boards, pos)
					}
				}
			}
		}
		cfg.Machines = append(cfg.Machines, cm)
	}
	return cfg, nil
}

// nthAddr is base + 4n + 1 (board Ethernet addresses a few apart, as on real
// machines).
func nthAddr(base netip.Addr, n int) (string, error) {
	b := base.As4()
	v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	v += 4*uint64(n) + 1
	if v>>24 != uint64(b[0]) || n < 0 {
		return "", fmt.Errorf("too many boards for the replay's synthetic addresses (%d)", n)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), nil
}
