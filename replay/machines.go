package replay

import (
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// MachinesFormat is the format of a trace's machine file.
const MachinesFormat = "spalloc-trace-machines/1"

// Machine is one machine of a machine file.
type Machine struct {
	Name          string
	Tags          []string
	Width, Height int // triads
	DeadBoards    []geometry.Board
	DeadLinks     []DeadLink // both directions, as listed
}

// DeadLink is a dead link leaving Board in direction Link.
type DeadLink struct {
	Board geometry.Board
	Link  geometry.Link
}

// WorkingBoards is 3 * W * H minus the dead boards.
func (m *Machine) WorkingBoards() int { return 3*m.Width*m.Height - len(m.DeadBoards) }

// Machines is a parsed machine file.
type Machines struct {
	Path              string
	Trace             string        // the trace file it belongs to, as written
	SecondsBeforeFree time.Duration // exact to the millisecond
	Machines          []Machine     // in priority order
	// Policy is the [scheduler] policy of the configuration the machines
	// came from (MachinesFromConfig); "" = the server's default.
	Policy string
}

// WorkingBoards is C, the working boards over all machines.
func (ms *Machines) WorkingBoards() int {
	c := 0
	for i := range ms.Machines {
		c += ms.Machines[i].WorkingBoards()
	}
	return c
}

// Machine returns the machine called name, or nil.
func (ms *Machines) Machine(name string) *Machine {
	for i := range ms.Machines {
		if ms.Machines[i].Name == name {
			return &ms.Machines[i]
		}
	}
	return nil
}

// ReadMachines reads and checks a machine file.
func ReadMachines(path string) (*Machines, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading machine file: %w", err)
	}
	return ParseMachines(data, path)
}

// ParseMachines reads a machine file in format spalloc-trace-machines/1;
// name is used in error messages ("name:line: path: ...").
func ParseMachines(data []byte, name string) (*Machines, error) {
	doc, err := parseJSONDoc(data, name)
	if err != nil {
		return nil, err
	}
	root := doc.root
	if err := doc.wantKind(root, "top level", jObject); err != nil {
		return nil, err
	}
	if err := doc.checkKeys(root, "top level", []string{"format", "machines"},
		[]string{"trace", "seconds_before_free", "generator"}); err != nil {
		return nil, err
	}
	format, err := doc.string(root.obj["format"], "format")
	if err != nil {
		return nil, err
	}
	if format != MachinesFormat {
		return nil, doc.errorf(root.obj["format"], "format", "want %q, got %q", MachinesFormat, format)
	}
	ms := &Machines{Path: name}
	if n, ok := root.obj["trace"]; ok {
		if ms.Trace, err = doc.string(n, "trace"); err != nil {
			return nil, err
		}
	}
	if n, ok := root.obj["seconds_before_free"]; ok {
		if ms.SecondsBeforeFree, err = readDelay(doc, n); err != nil {
			return nil, err
		}
	}
	if ms.Machines, err = readMachineList(doc, root.obj["machines"]); err != nil {
		return nil, err
	}
	return ms, nil
}

func readDelay(doc *jsonDoc, n *jnode) (time.Duration, error) {
	v, err := doc.float(n, "seconds_before_free")
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxSeconds || math.IsNaN(v) {
		return 0, doc.errorf(n, "seconds_before_free", "want a number of seconds from 0 to %g, got %s", maxSeconds, n.num)
	}
	ms := math.Round(v * 1000)
	if math.Abs(ms-v*1000) > 1e-6 {
		return 0, doc.errorf(n, "seconds_before_free", "at most 3 decimals allowed, got %s", n.num)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func readMachineList(doc *jsonDoc, n *jnode) ([]Machine, error) {
	if err := doc.wantKind(n, "machines", jArray); err != nil {
		return nil, err
	}
	if len(n.arr) == 0 {
		return nil, doc.errorf(n, "machines", "the list is empty; want at least one machine")
	}
	var out []Machine
	seen := map[string]string{}
	for i, mn := range n.arr {
		path := fmt.Sprintf("machines[%d]", i)
		m, err := readMachine(doc, mn, path)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[m.Name]; dup {
			return nil, doc.errorf(mn.obj["name"], path+".name", "machine %q is already defined by %s", m.Name, first)
		}
		seen[m.Name] = path
		out = append(out, m)
	}
	return out, nil
}

func readMachine(doc *jsonDoc, n *jnode, path string) (Machine, error) {
	var m Machine
	if err := doc.wantKind(n, path, jObject); err != nil {
		return m, err
	}
	if err := doc.checkKeys(n, path, []string{"name", "width", "height"},
		[]string{"tags", "dead_boards", "dead_links"}); err != nil {
		return m, err
	}
	var err error
	if m.Name, err = doc.string(n.obj["name"], path+".name"); err != nil {
		return m, err
	}
	if m.Name == "" {
		return m, doc.errorf(n.obj["name"], path+".name", "the name is empty")
	}
	if m.Tags, err = readTags(doc, n.obj["tags"], path+".tags"); err != nil {
		return m, err
	}
	if m.Width, err = readDimension(doc, n.obj["width"], path+".width"); err != nil {
		return m, err
	}
	if m.Height, err = readDimension(doc, n.obj["height"], path+".height"); err != nil {
		return m, err
	}
	if m.DeadBoards, err = readDeadBoards(doc, n.obj["dead_boards"], path+".dead_boards", &m); err != nil {
		return m, err
	}
	if m.DeadLinks, err = readDeadLinks(doc, n.obj["dead_links"], path+".dead_links", &m); err != nil {
		return m, err
	}
	return m, nil
}

func readTags(doc *jsonDoc, n *jnode, path string) ([]string, error) {
	if n == nil {
		return []string{}, nil
	}
	if err := doc.wantKind(n, path, jArray); err != nil {
		return nil, err
	}
	tags := []string{}
	for i, tn := range n.arr {
		t, err := doc.string(tn, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// maxTriads bounds a machine's side, far above any real machine, so that a
// typo cannot make the replay build millions of boards.
const maxTriads = 256

func readDimension(doc *jsonDoc, n *jnode, path string) (int, error) {
	v, err := doc.int(n, path)
	if err != nil {
		return 0, err
	}
	if v < 1 || v > maxTriads {
		return 0, doc.errorf(n, path, "want a number of triads from 1 to %d, got %d", maxTriads, v)
	}
	return v, nil
}

// readBoard reads [x, y, z] (or the first three items of a longer list,
// which the caller has checked) as a board of m.
func readBoard(doc *jsonDoc, n *jnode, path string, m *Machine) (geometry.Board, error) {
	var xyz [3]int
	for i := range xyz {
		v, err := doc.int(n.arr[i], fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return geometry.Board{}, err
		}
		xyz[i] = v
	}
	b := geometry.Board{X: xyz[0], Y: xyz[1], Z: xyz[2]}
	if !b.InMachine(m.Width, m.Height) {
		return b, doc.errorf(n, path, "board %v is outside the %dx%d-triad machine", b, m.Width, m.Height)
	}
	return b, nil
}

func readDeadBoards(doc *jsonDoc, n *jnode, path string, m *Machine) ([]geometry.Board, error) {
	if n == nil {
		return nil, nil
	}
	if err := doc.wantKind(n, path, jArray); err != nil {
		return nil, err
	}
	var out []geometry.Board
	seen := map[geometry.Board]bool{}
	for i, bn := range n.arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		if bn.kind != jArray || len(bn.arr) != 3 {
			return nil, doc.errorf(bn, p, "want [x, y, z]")
		}
		b, err := readBoard(doc, bn, p, m)
		if err != nil {
			return nil, err
		}
		if seen[b] {
			return nil, doc.errorf(bn, p, "board %v is listed twice", b)
		}
		seen[b] = true
		out = append(out, b)
	}
	slices.SortFunc(out, compareBoards)
	return out, nil
}

func readDeadLinks(doc *jsonDoc, n *jnode, path string, m *Machine) ([]DeadLink, error) {
	if n == nil {
		return nil, nil
	}
	if err := doc.wantKind(n, path, jArray); err != nil {
		return nil, err
	}
	var out []DeadLink
	seen := map[DeadLink]bool{}
	for i, ln := range n.arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		if ln.kind != jArray || len(ln.arr) != 4 {
			return nil, doc.errorf(ln, p, `want [x, y, z, link] with link one of "east", "north_east", ...`)
		}
		b, err := readBoard(doc, ln, p, m)
		if err != nil {
			return nil, err
		}
		name, err := doc.string(ln.arr[3], p+"[3]")
		if err != nil {
			return nil, err
		}
		link, err := geometry.ParseLink(name)
		if err != nil {
			return nil, doc.errorf(ln.arr[3], p+"[3]", "%v", err)
		}
		dl := DeadLink{Board: b, Link: link}
		if seen[dl] {
			return nil, doc.errorf(ln, p, "link %v %v is listed twice", b, link)
		}
		seen[dl] = true
		out = append(out, dl)
	}
	slices.SortFunc(out, func(a, c DeadLink) int {
		if r := compareBoards(a.Board, c.Board); r != 0 {
			return r
		}
		return int(a.Link) - int(c.Link)
	})
	return out, nil
}

func compareBoards(a, c geometry.Board) int {
	switch {
	case a.X != c.X:
		return a.X - c.X
	case a.Y != c.Y:
		return a.Y - c.Y
	default:
		return a.Z - c.Z
	}
}
