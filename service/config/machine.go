package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spalloc/spallocd/service/geometry"
)

// Bounds that keep every loop and sum small; far above any real machine
// (the largest is 20 x 20 triads in 10 cabinets of 5 frames).
const (
	maxTriads     = 256     // width and height
	maxCoordinate = 1 << 16 // cabinet, frame, triad and chip coordinates
	maxBoardNum   = 31      // the BMP's board mask has 32 bits
)

// form is the way a machine is described (docs/configuration.md,
// "[[machine]]").
type form int

const (
	formSingle   form = iota + 1 // single_board
	formStandard                 // standard_ips + boards or spinner_csv
	formExplicit                 // bmps + boards with ip
)

// placed is a board position with the field it came from, for messages.
type placed struct {
	BoardPos
	field string
}

// placedBMP is a BMP with the field it came from.
type placedBMP struct {
	BMP
	field string
}

// deadEntry is a dead board or link with the field it came from.
type deadEntry struct {
	DeadLink // Link is unused for dead boards
	field    string
}

// builder resolves one [[machine]] table.
type builder struct {
	rep  reporter
	raw  rawMachine
	dir  string
	form form

	m          Machine
	deadBoards []deadEntry
	deadLinks  []deadEntry
	dead       map[geometry.Board]bool
	positions  []placed
	bmps       []placedBMP
	sized      bool // width and height known
}

// resolved is a machine with the fields its boards and BMPs came from, for
// the checks across machines. A machine with problems of its own (ok false)
// still takes part in those checks with what could be read, so that one run
// reports everything.
type resolved struct {
	rep       reporter
	machine   Machine
	positions []placed
	bmps      []placedBMP
	ok        bool
}

func resolveMachine(p *problems, index int, r rawMachine, dir string) *resolved {
	name := ""
	if r.Name != nil {
		name = *r.Name
	}
	b := &builder{rep: p.forMachine(index, name), raw: r, dir: dir}
	start := b.rep.count()
	b.build()
	return &resolved{rep: b.rep, machine: b.m, positions: b.positions, bmps: b.bmps, ok: b.rep.count() == start}
}

// build runs the steps in order; a step whose input is broken is skipped, so
// that every independent problem is still reported.
func (b *builder) build() {
	b.m.Name = b.name()
	b.m.Tags = b.tags()
	b.m.FakeBMP = b.fakeBMP()
	b.readDeadBoards()
	b.readDeadLinks()
	if !b.chooseForm() || !b.readGivenSize() {
		return
	}
	if !b.readPositions() || !b.ensureSize() {
		return
	}
	b.checkInside()
	b.checkDuplicates()
	b.checkAllLivePlaced()
	b.assignAddresses()
	b.finish()
}

func (b *builder) name() string {
	if b.raw.Name == nil {
		b.rep.addf("name", "every machine needs a name")
		return ""
	}
	name := *b.raw.Name
	if !machineName.MatchString(name) {
		b.rep.addf("name", "%s is not a usable machine name: use 1 to %d letters, digits, '.', '_' or '-', "+
			"starting with a letter or a digit (names are parts of URLs, metric labels and log fields)", shorten(name), maxNameLen)
	}
	return name
}

// maxNameLen bounds a machine name.
const maxNameLen = 64

// machineName is the form of a machine name: nothing that needs escaping in
// a URL path, a Prometheus label value, a log field or a shell.
var machineName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,` + strconv.Itoa(maxNameLen-1) + `}$`)

// shorten quotes s for a message, cut to its first 40 characters.
func shorten(s string) string {
	const most = 40
	if r := []rune(s); len(r) > most {
		return fmt.Sprintf("%q... (%d bytes)", string(r[:most]), len(s))
	}
	return fmt.Sprintf("%q", s)
}

func (b *builder) tags() []string {
	if b.raw.Tags == nil {
		return []string{"default"}
	}
	seen := map[string]bool{}
	for i, tag := range *b.raw.Tags {
		field := fmt.Sprintf("tags[%d]", i)
		switch {
		case tag == "":
			b.rep.addf(field, "a tag must not be empty")
		case seen[tag]:
			b.rep.addf(field, "tag %q is listed twice", tag)
		}
		seen[tag] = true
	}
	return append([]string{}, *b.raw.Tags...)
}

func (b *builder) fakeBMP() *FakeBMP {
	r := b.raw.FakeBMP
	if r == nil {
		return nil
	}
	fake := &FakeBMP{}
	setDuration(b.rep, "fake_bmp.power_delay", r.PowerDelay, &fake.PowerDelay)
	setDuration(b.rep, "fake_bmp.link_delay", r.LinkDelay, &fake.LinkDelay)
	return fake
}

// chooseForm decides which of the three descriptions the table uses and
// rejects keys that do not belong to it.
func (b *builder) chooseForm() bool {
	r := b.raw
	var forms []string
	if r.SingleBoard != nil {
		forms, b.form = append(forms, "single_board"), formSingle
	}
	if r.StandardIPs != nil {
		forms, b.form = append(forms, "standard_ips"), formStandard
	}
	if r.BMPs != nil {
		forms, b.form = append(forms, "bmps"), formExplicit
	}
	switch {
	case len(forms) == 0:
		b.rep.addf("", "no description of the machine: give single_board, standard_ips (with boards or spinner_csv), or bmps (with boards)")
		return false
	case len(forms) > 1:
		b.rep.addf(strings.Join(forms, ", "), "these are alternative ways to describe a machine: give exactly one")
		return false
	}
	return b.checkFormKeys()
}

func (b *builder) checkFormKeys() bool {
	r := b.raw
	start := b.rep.count()
	switch b.form {
	case formSingle:
		b.forbid(r.Boards != nil, "boards", "single_board")
		b.forbid(r.SpinnerCSV != nil, "spinner_csv", "single_board")
		b.forbid(r.Width != nil, "width", "single_board")
		b.forbid(r.Height != nil, "height", "single_board")
	case formStandard:
		if (r.Boards == nil) == (r.SpinnerCSV == nil) {
			b.rep.addf("standard_ips", "give the board positions either as boards or as spinner_csv (exactly one)")
		}
	case formExplicit:
		b.forbid(r.SpinnerCSV != nil, "spinner_csv", "bmps (use standard_ips with a SpiNNer CSV)")
		if r.Boards == nil {
			b.rep.addf("boards", "missing: with bmps, list every working board with xyz, cfb and ip")
		}
	}
	return b.rep.count() == start
}

func (b *builder) forbid(present bool, key, form string) {
	if present {
		b.rep.addf(key, "not allowed with %s", form)
	}
}

// readGivenSize reads width and height, which come together (CONF-14).
func (b *builder) readGivenSize() bool {
	w, h := b.raw.Width, b.raw.Height
	switch {
	case b.form == formSingle:
		b.m.Width, b.m.Height, b.sized, b.m.SingleBoard = 1, 1, true, true
		return true
	case w == nil && h == nil:
		return true
	case w == nil || h == nil:
		b.rep.addf("width, height", "give both width and height, or neither to infer them from the boards")
		return false
	}
	ok := b.checkDimension("width", *w) && b.checkDimension("height", *h)
	b.m.Width, b.m.Height, b.sized = *w, *h, ok
	return ok
}

func (b *builder) checkDimension(field string, v int) bool {
	if v < 1 || v > maxTriads {
		b.rep.addf(field, "%d is not a size in triads from 1 to %d", v, maxTriads)
		return false
	}
	return true
}

// ensureSize infers width and height when they were not given: one more than
// the largest x and y of every positioned or dead board (CONF-13).
func (b *builder) ensureSize() bool {
	if b.sized {
		return true
	}
	boards := make([]geometry.Board, 0, len(b.positions)+len(b.deadBoards))
	for _, p := range b.positions {
		boards = append(boards, p.Board)
	}
	for _, d := range b.deadBoards {
		boards = append(boards, d.Board)
	}
	if len(boards) == 0 {
		b.rep.addf("width, height", "cannot be inferred: no boards are given; give width and height")
		return false
	}
	for _, bd := range boards {
		b.m.Width, b.m.Height = max(b.m.Width, bd.X+1), max(b.m.Height, bd.Y+1)
	}
	if b.m.Width > maxTriads || b.m.Height > maxTriads {
		b.rep.addf("width, height", "the boards given make the machine %dx%d triads, larger than %dx%d",
			b.m.Width, b.m.Height, maxTriads, maxTriads)
		return false
	}
	b.sized = true
	return true
}

func (b *builder) sizeText() string {
	return fmt.Sprintf("%dx%d-triad machine", b.m.Width, b.m.Height)
}

// checkInside checks that dead boards, dead links and positions name boards
// of the machine (CONF-06, -07, -08) and that slots are plausible.
func (b *builder) checkInside() {
	w, h := b.m.Width, b.m.Height
	for _, d := range b.deadBoards {
		if !d.Board.InMachine(w, h) {
			b.rep.addf(d.field, "board %v is outside the %s", d.Board, b.sizeText())
		}
	}
	for _, d := range b.deadLinks {
		if !d.Board.InMachine(w, h) {
			b.rep.addf(d.field, "the link starts at board %v, which is outside the %s", d.Board, b.sizeText())
		}
	}
	for _, p := range b.positions {
		if !p.Board.InMachine(w, h) {
			b.rep.addf(p.field, "position given for board %v, which is outside the %s", p.Board, b.sizeText())
		}
		b.checkSlot(p)
	}
}

func (b *builder) checkSlot(p placed) {
	switch {
	case p.Cabinet < 0 || p.Cabinet > maxCoordinate:
		b.rep.addf(p.field, "cabinet %d is not a number from 0 to %d", p.Cabinet, maxCoordinate)
	case p.Frame < 0 || p.Frame > maxCoordinate:
		b.rep.addf(p.field, "frame %d is not a number from 0 to %d", p.Frame, maxCoordinate)
	case p.BoardNum < 0 || p.BoardNum > maxBoardNum:
		b.rep.addf(p.field, "board number %d is not from 0 to %d (a frame's BMP addresses 32 boards)", p.BoardNum, maxBoardNum)
	}
}

// checkDuplicates rejects anything listed twice: dead boards and links,
// positions of one board, and two boards in one physical slot (CONF-09).
func (b *builder) checkDuplicates() {
	b.dead = map[geometry.Board]bool{}
	deadAt := map[DeadLink]string{}
	for _, d := range b.deadBoards {
		if first, ok := deadAt[DeadLink{Board: d.Board}]; ok {
			b.rep.addf(d.field, "board %v is already listed dead by %s", d.Board, first)
			continue
		}
		deadAt[DeadLink{Board: d.Board}] = d.field
		b.dead[d.Board] = true
	}
	linkAt := map[DeadLink]string{}
	for _, d := range b.deadLinks {
		if first, ok := linkAt[d.DeadLink]; ok {
			b.rep.addf(d.field, "link %v %v is already listed dead by %s", d.Board, d.Link, first)
			continue
		}
		linkAt[d.DeadLink] = d.field
	}
	b.checkPositionDuplicates()
}

type slot struct{ cabinet, frame, board int }

func (b *builder) checkPositionDuplicates() {
	boardAt := map[geometry.Board]placed{}
	slotAt := map[slot]placed{}
	for _, p := range b.positions {
		if first, ok := boardAt[p.Board]; ok {
			b.rep.addf(p.field, "board %v already has a position, given by %s", p.Board, first.field)
		} else {
			boardAt[p.Board] = p
		}
		s := slot{p.Cabinet, p.Frame, p.BoardNum}
		if first, ok := slotAt[s]; ok {
			b.rep.addf(p.field, "boards %v and %v are both placed in cabinet %d, frame %d, board %d (also %s)",
				first.Board, p.Board, p.Cabinet, p.Frame, p.BoardNum, first.field)
		} else {
			slotAt[s] = p
		}
	}
}

// checkAllLivePlaced requires a position for every board that is not dead
// (CONF-10).
func (b *builder) checkAllLivePlaced() {
	have := make(map[geometry.Board]bool, len(b.positions))
	for _, p := range b.positions {
		have[p.Board] = true
	}
	var missing []geometry.Board
	for x := range b.m.Width {
		for y := range b.m.Height {
			for z := range 3 {
				bd := geometry.Board{X: x, Y: y, Z: z}
				if !have[bd] && !b.dead[bd] {
					missing = append(missing, bd)
				}
			}
		}
	}
	if len(missing) > 0 {
		b.rep.addf(b.positionsField(), "no position for live boards %s; give their positions or list them in dead_boards",
			boardList(missing))
	}
}

// positionsField names the key that gives this machine's positions.
func (b *builder) positionsField() string {
	if b.raw.SpinnerCSV != nil {
		return "spinner_csv"
	}
	return "boards"
}

// boardList formats boards for a message, naming at most ten.
func boardList(boards []geometry.Board) string {
	const most = 10
	parts := make([]string, 0, most+1)
	for i, bd := range boards {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(boards)-most))
			break
		}
		parts = append(parts, bd.String())
	}
	return strings.Join(parts, ", ")
}
