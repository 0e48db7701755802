package config

import "strings"

// resolveMachines resolves every [[machine]] table and then checks what must
// be unique across machines: names (CONF-03), BMP addresses (CONF-04) and
// board addresses (CONF-05, which also catches repeats inside one machine).
func resolveMachines(p *problems, raws []rawMachine, dir string) []Machine {
	checkUniqueNames(p, raws)
	done := make([]*resolved, len(raws))
	for i, r := range raws {
		done[i] = resolveMachine(p, i+1, r, dir)
	}
	checkUniqueBMPs(done)
	checkUniqueBoardIPs(done)
	var machines []Machine
	for _, res := range done {
		if res.ok {
			machines = append(machines, res.machine)
		}
	}
	return machines
}

func checkUniqueNames(p *problems, raws []rawMachine) {
	first := map[string]int{}
	for i, r := range raws {
		if r.Name == nil {
			continue
		}
		if j, ok := first[*r.Name]; ok {
			p.forMachine(i+1, *r.Name).addf("name", "machine name %q is used more than once (machines #%d and #%d)", *r.Name, j, i+1)
			continue
		}
		first[*r.Name] = i + 1
	}
}

// owner says where an address was first seen.
type owner struct {
	machine string
	what    string // e.g. "board (0, 0, 1) (boards[1])"
}

func (o owner) describe(sameMachine string) string {
	if o.machine == sameMachine {
		return o.what
	}
	return o.what + " of machine " + quote(o.machine)
}

func quote(s string) string { return `"` + s + `"` }

func checkUniqueBMPs(done []*resolved) {
	seen := map[string]owner{}
	for _, res := range done {
		for _, m := range res.bmps {
			key := bmpIdentity(m.Address)
			what := "the BMP of frame " + frameKey{m.Cabinet, m.Frame}.String()
			if first, ok := seen[key]; ok {
				res.rep.addf(m.field, "BMP address %q of frame %v is already used by %s",
					m.Address, frameKey{m.Cabinet, m.Frame}, first.describe(res.machine.Name))
				continue
			}
			seen[key] = owner{machine: res.machine.Name, what: what}
		}
	}
}

func checkUniqueBoardIPs(done []*resolved) {
	seen := map[string]owner{}
	for _, res := range done {
		for _, p := range res.positions {
			if p.IP == "" {
				continue
			}
			key := strings.ToLower(p.IP)
			if first, ok := seen[key]; ok {
				res.rep.addf(p.field, "SpiNNaker IP %q of board %v is already used by %s",
					p.IP, p.Board, first.describe(res.machine.Name))
				continue
			}
			seen[key] = owner{machine: res.machine.Name, what: "board " + p.Board.String() + " (" + p.field + ")"}
		}
	}
}
