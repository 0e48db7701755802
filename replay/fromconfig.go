package replay

import (
	"fmt"
	"strings"

	"github.com/spalloc/spallocd/service/config"
	"github.com/spalloc/spallocd/service/geometry"
)

// MachinesFromConfig takes the machine called name (the first one when name
// is "") from a spallocd configuration file, so that a facility can replay
// a trace on its own machine: its size, tags, dead boards and dead links,
// the server's free_delay as the time before freed boards are reused, and
// its scheduling policy.
func MachinesFromConfig(path, name string) (*Machines, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if len(cfg.Machines) == 0 {
		return nil, fmt.Errorf("%s: the configuration has no machine", path)
	}
	cm := &cfg.Machines[0]
	if name != "" {
		cm = nil
		var names []string
		for i := range cfg.Machines {
			names = append(names, cfg.Machines[i].Name)
			if cfg.Machines[i].Name == name {
				cm = &cfg.Machines[i]
			}
		}
		if cm == nil {
			return nil, fmt.Errorf("%s: no machine %q (it has %s)", path, name, strings.Join(names, ", "))
		}
	}
	m := Machine{Name: cm.Name, Tags: append([]string(nil), cm.Tags...), Width: cm.Width, Height: cm.Height}
	working := make(map[geometry.Board]bool, len(cm.Boards))
	for _, b := range cm.Boards {
		working[b.Board] = true
	}
	for x := range cm.Width {
		for y := range cm.Height {
			for z := range 3 {
				if b := (geometry.Board{X: x, Y: y, Z: z}); !working[b] {
					m.DeadBoards = append(m.DeadBoards, b)
				}
			}
		}
	}
	for _, l := range cm.DeadLinks {
		m.DeadLinks = append(m.DeadLinks, DeadLink{Board: l.Board, Link: l.Link})
	}
	return &Machines{Path: path, SecondsBeforeFree: cfg.Server.FreeDelay, Machines: []Machine{m}, Policy: cfg.Scheduler.Policy}, nil
}
