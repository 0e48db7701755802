package config

import (
	"bytes"
	"fmt"

	"github.com/spalloc/spallocd/service/geometry"
)

func (b *builder) readDeadBoards() {
	for i, e := range b.raw.DeadBoards {
		field := fmt.Sprintf("dead_boards[%d]", i)
		if len(e) != 3 || !coordinatesInRange(e...) {
			b.rep.addf(field, "want [x, y, z] (each within ±%d), got %v", maxCoordinate, e)
			continue
		}
		bd := geometry.Board{X: e[0], Y: e[1], Z: e[2]}
		b.deadBoards = append(b.deadBoards, deadEntry{DeadLink: DeadLink{Board: bd}, field: field})
	}
}

func (b *builder) readDeadLinks() {
	for i, e := range b.raw.DeadLinks {
		field := fmt.Sprintf("dead_links[%d]", i)
		link, err := parseDeadLink(e)
		if err != nil {
			b.rep.addf(field, "%v", err)
			continue
		}
		b.deadLinks = append(b.deadLinks, deadEntry{DeadLink: link, field: field})
	}
}

// parseDeadLink reads [x, y, z, "link"].
func parseDeadLink(e []any) (DeadLink, error) {
	shapeErr := fmt.Errorf("want [x, y, z, \"link name\"], got %v", e)
	if len(e) != 4 {
		return DeadLink{}, shapeErr
	}
	var xyz [3]int
	for i := range xyz {
		n, ok := e[i].(int64)
		if !ok || n < -maxCoordinate || n > maxCoordinate {
			return DeadLink{}, shapeErr
		}
		xyz[i] = int(n)
	}
	name, ok := e[3].(string)
	if !ok {
		return DeadLink{}, shapeErr
	}
	link, err := geometry.ParseLink(name)
	if err != nil {
		return DeadLink{}, err
	}
	return DeadLink{Board: geometry.Board{X: xyz[0], Y: xyz[1], Z: xyz[2]}, Link: link}, nil
}

// readPositions collects the board positions of the machine's form.
func (b *builder) readPositions() bool {
	switch {
	case b.form == formSingle:
		return b.singleBoard()
	case b.raw.SpinnerCSV != nil:
		return b.spinnerPositions()
	}
	return b.listPositions()
}

// singleBoard is one board, (0, 0, 0) at cabinet 0, frame 0, board 0, in a
// 1x1 machine whose other two boards are dead (CONF-15, -16).
func (b *builder) singleBoard() bool {
	r := b.raw.SingleBoard
	bmpIP := b.requiredAddress("single_board.bmp_ip", r.BMPIP, checkBMPAddress)
	boardIP := b.requiredAddress("single_board.spinnaker_ip", r.SpinnakerIP, checkBoardIP)
	if bmpIP == "" || boardIP == "" {
		return false
	}
	b.positions = []placed{{BoardPos: BoardPos{IP: boardIP}, field: "single_board"}}
	b.bmps = []placedBMP{{BMP: BMP{Address: bmpIP}, field: "single_board.bmp_ip"}}
	for z := 1; z <= 2; z++ {
		if !b.listedDead(geometry.Board{Z: z}) {
			b.deadBoards = append(b.deadBoards, deadEntry{DeadLink: DeadLink{Board: geometry.Board{Z: z}}, field: "single_board"})
		}
	}
	return true
}

func (b *builder) listedDead(bd geometry.Board) bool {
	for _, d := range b.deadBoards {
		if d.Board == bd {
			return true
		}
	}
	return false
}

// requiredAddress returns a checked address, or "" after reporting why not.
func (b *builder) requiredAddress(field string, v *string, check func(string) error) string {
	if v == nil {
		b.rep.addf(field, "must be given")
		return ""
	}
	if err := check(*v); err != nil {
		b.rep.addf(field, "%v", err)
		return ""
	}
	return *v
}

// listPositions reads boards = [{xyz, cfb, ip}, ...].
func (b *builder) listPositions() bool {
	start := b.rep.count()
	for i, rb := range *b.raw.Boards {
		field := fmt.Sprintf("boards[%d]", i)
		if len(rb.XYZ) != 3 || len(rb.CFB) != 3 || !coordinatesInRange(append(rb.XYZ, rb.CFB...)...) {
			b.rep.addf(field, "want xyz = [x, y, z] and cfb = [cabinet, frame, board] (each within ±%d), got xyz = %v, cfb = %v",
				maxCoordinate, rb.XYZ, rb.CFB)
			continue
		}
		p := placed{field: field, BoardPos: BoardPos{
			Board:   geometry.Board{X: rb.XYZ[0], Y: rb.XYZ[1], Z: rb.XYZ[2]},
			Cabinet: rb.CFB[0], Frame: rb.CFB[1], BoardNum: rb.CFB[2],
		}}
		if b.readBoardIP(field, rb.IP, &p) {
			b.positions = append(b.positions, p)
		}
	}
	return b.rep.count() == start
}

// readBoardIP takes a board's ip: required by nothing here (live boards are
// checked later), forbidden with standard_ips, where the scheme gives it.
func (b *builder) readBoardIP(field string, ip *string, p *placed) bool {
	if ip == nil {
		return true
	}
	if b.form == formStandard {
		b.rep.addf(field+".ip", "not allowed with standard_ips, which gives every board's address")
		return false
	}
	if err := checkBoardIP(*ip); err != nil {
		b.rep.addf(field+".ip", "%v", err)
		return false
	}
	p.IP = *ip
	return true
}

// spinnerPositions reads a SpiNNer CSV and converts each Ethernet chip to a
// board (CONF-19). Without width and height the machine's chip size is the
// largest chip coordinate rounded up to whole triads.
func (b *builder) spinnerPositions() bool {
	path := resolvePath(b.dir, *b.raw.SpinnerCSV)
	rows, err := readSpinnerFile(path)
	if err != nil {
		b.rep.addf("spinner_csv", "%v", err)
		return false
	}
	start := b.rep.count()
	if !b.sized && len(rows) > 0 {
		b.sizeFromChips(rows)
	}
	for _, row := range rows {
		b.spinnerPosition(path, row)
	}
	return b.rep.count() == start
}

// maxSpinnerBytes bounds a SpiNNer CSV (a 1200-board one is 20 KB).
const maxSpinnerBytes = 16 << 20

func readSpinnerFile(path string) ([]SpinnerRow, error) {
	data, err := readSmallFile(path, maxSpinnerBytes)
	if err != nil {
		return nil, err
	}
	return ReadSpinnerCSV(bytes.NewReader(data), path)
}

func (b *builder) sizeFromChips(rows []SpinnerRow) {
	maxX, maxY := 0, 0
	for _, r := range rows {
		maxX, maxY = max(maxX, r.X), max(maxY, r.Y)
	}
	b.m.Width, b.m.Height = maxX/12+1, maxY/12+1
	b.sized = b.checkDimension("width", b.m.Width) && b.checkDimension("height", b.m.Height)
}

func (b *builder) spinnerPosition(path string, row SpinnerRow) {
	field := fmt.Sprintf("spinner_csv (%s:%d)", path, row.Line)
	if !b.sized {
		return
	}
	w, h := 12*b.m.Width, 12*b.m.Height
	if row.X >= w || row.Y >= h {
		b.rep.addf(field, "chip (%d, %d) is outside the %s (%dx%d chips)", row.X, row.Y, b.sizeText(), w, h)
		return
	}
	bd, err := geometry.ChipToBoard(row.X, row.Y, w, h)
	if err != nil {
		b.rep.addf(field, "%v", err)
		return
	}
	if ex, ey := geometry.BoardToChip(bd); ex != row.X || ey != row.Y {
		b.rep.addf(field, "chip (%d, %d) is not an Ethernet chip (board %v has its Ethernet chip at (%d, %d))",
			row.X, row.Y, bd, ex, ey)
		return
	}
	b.positions = append(b.positions, placed{field: field, BoardPos: BoardPos{
		Board: bd, Cabinet: row.Cabinet, Frame: row.Frame, BoardNum: row.Board,
	}})
}

// coordinatesInRange keeps numbers small enough that no sum overflows; the
// precise checks (inside the machine, slot numbers) come later with clearer
// messages.
func coordinatesInRange(vals ...int) bool {
	for _, v := range vals {
		if v < -maxCoordinate || v > maxCoordinate {
			return false
		}
	}
	return true
}
