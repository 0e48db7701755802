package service

// Requesting BMP operations, and the rule that a newer power request for a
// board supersedes its older requests that no worker holds (the last
// request wins; requests a worker holds finish first, and ClaimBMPOps hands
// out a board's requests in order).

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/spalloc/spallocd/db"
)

// requestOps requests one operation of the given kind for each board index
// of m (switching the links of masks[k] for link operations), in order.
func (t *tx) requestOps(m *machine, idx []int, job int64, kind OpKind, masks []int64) error {
	return t.insertOps(newOps(m, idx, job, kind, masks))
}

// newOps makes one operation of the given kind for each board index of m
// (switching the links of masks[k] for link operations), in order. Boards
// without a BMP are skipped.
func newOps(m *machine, idx []int, job int64, kind OpKind, masks []int64) []*op {
	var ops []*op
	for k, i := range idx {
		bi := m.info[i]
		if bi.bmpID == 0 {
			continue
		}
		o := &op{bmpID: bi.bmpID, boardID: bi.id, job: job, kind: kind, board: m.board(i), boardNum: bi.phys.Board}
		if masks != nil {
			o.links = masks[k]
		}
		ops = append(ops, o)
	}
	return ops
}

// insertOps requests new operations, all of one job (or of none), in
// order, in one statement. Power requests supersede every older request
// for their boards that is not in flight; link requests come right after
// the power requests of the same boards, which already did that.
func (t *tx) insertOps(ops []*op) error {
	if len(ops) == 0 {
		return nil
	}
	if err := t.supersede(t.supersededBy(ops)); err != nil {
		return err
	}
	rows, err := opRows(ops)
	if err != nil {
		return t.s.internal("request BMP operations", err)
	}
	items, err := opItems(rows)
	if err != nil {
		return t.s.internal("request BMP operations", err)
	}
	res, err := t.q.InsertOps(t.ctx, db.InsertOpsParams{JobID: jobRef(ops[0].job), CreatedAt: unix(t.now), Items: items})
	if err != nil {
		return t.dbErr("request BMP operations", err)
	}
	if err := numberOps(res, rows); err != nil {
		return t.s.internal("request BMP operations", err)
	}
	t.addOps(ops)
	for _, r := range rows {
		t.change.bmp(r.bmpID)
	}
	return nil
}

// opRow is one bmp_ops row: operations of one kind (and links mask) on
// boards of one BMP, requested together.
type opRow struct {
	bmpID  int64
	kind   OpKind
	links  int64
	boards int64 // bit n: the board with board number n
	ops    []*op
}

// opRows puts new operations, in order, into as few rows as keep each
// board's operations in order: one per BMP, kind and links mask, except
// that an operation never joins a row made before the row of an earlier
// operation of its board (rows are numbered in the order made, and a
// board's operations are carried out in id order).
func opRows(ops []*op) ([]*opRow, error) {
	type key struct {
		bmpID, links int64
		kind         OpKind
	}
	open := map[key]int{}
	latest := map[int64]int{} // board id -> row of its latest operation so far
	var rows []*opRow
	for _, o := range ops {
		if o.boardNum < 0 || o.boardNum >= 1<<opBoardBits {
			return nil, fmt.Errorf("%s operation on board %d: board number %d is not from 0 to %d", o.kind, o.boardID, o.boardNum, 1<<opBoardBits-1)
		}
		k := key{o.bmpID, o.links, o.kind}
		r, ok := open[k]
		if last, seen := latest[o.boardID]; !ok || (seen && last >= r) {
			r = len(rows)
			rows = append(rows, &opRow{bmpID: o.bmpID, kind: o.kind, links: o.links})
			open[k] = r
		}
		rows[r].boards |= 1 << o.boardNum
		rows[r].ops = append(rows[r].ops, o)
		latest[o.boardID] = r
	}
	return rows, nil
}

// opItems renders new rows as InsertOps reads them: a JSON array with one
// integer per row, boards mask + links mask << 32 + kind << 38 (opKinds) +
// BMP id << 40.
func opItems(rows []*opRow) (string, error) {
	b := make([]byte, 0, 2+20*len(rows))
	b = append(b, '[')
	for k, r := range rows {
		kind := slices.Index(opKinds, r.kind)
		if r.bmpID <= 0 || r.bmpID > opBMPMax || r.links < 0 || r.links > 63 || kind < 0 || r.boards <= 0 || r.boards > 1<<32-1 {
			return "", fmt.Errorf("%s operation on BMP %d (boards %#x, links %d) out of InsertOps' range", r.kind, r.bmpID, r.boards, r.links)
		}
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r.boards|r.links<<32|int64(kind)<<38|r.bmpID<<40, 10)
	}
	return string(append(b, ']')), nil
}

// An operation's id is its row's id << opBoardBits + its board number
// (board numbers are 0 to 31, service/config): unique, never reused, and
// in request order. opBMPMax is the largest BMP id an InsertOps item takes:
// 8 million, some 20,000 re-creations of a machine of 400 frames; beyond it
// requests fail with an internal error rather than reach the wrong BMP.
const (
	opBoardBits = 5
	opBMPMax    = 1<<23 - 1
)

// opKinds numbers the kinds in InsertOps items (queries/ops.sql decodes
// them in this order).
var opKinds = []OpKind{OpPowerOn, OpPowerOff, OpLinkOff, OpLinkOn}

// rowOf is the bmp_ops row of an operation.
func rowOf(o *op) int64 { return o.id >> opBoardBits }

// moveOps gives the open operations of a board to the board in its slot on
// a re-created machine: they are requested anew there, in order, and end
// on the old board (a claim of the old one is dropped; its late outcome
// changes nothing, and the new operation is handed out afresh).
func (t *tx) moveOps(fromBMP, fromBoard int64, m *machine, j int) error {
	old := t.opsOfBoard(fromBMP, fromBoard)
	if err := t.endOps(old, "move operations"); err != nil {
		return err
	}
	for _, o := range old {
		if err := t.requestOps(m, []int{j}, o.job, o.kind, []int64{o.links}); err != nil {
			return err
		}
	}
	return nil
}

// supersededBy lists the open operations that the power requests among
// requests supersede: every one of their boards that no worker holds now.
func (t *tx) supersededBy(requests []*op) []*op {
	boards := make(map[int64]bool, len(requests))
	bmps := map[int64]bool{}
	for _, o := range requests {
		if !o.isPower() {
			continue
		}
		boards[o.boardID] = true
		bmps[o.bmpID] = true
	}
	var out []*op
	for bmpID := range bmps {
		for _, o := range t.opsOf(bmpID) {
			if boards[o.boardID] && !o.inFlight(t.now) {
				out = append(out, o)
			}
		}
	}
	return out
}

// supersede ends open operations: a newer request wins over them.
func (t *tx) supersede(ops []*op) error { return t.endOps(ops, "supersede operations") }

// endOps ends open operations, whatever their outcome: their bits leave
// their rows, a row with no bit left goes (bmp_ops keeps the open ones
// only), and they leave the world.
func (t *tx) endOps(ops []*op, what string) error {
	if len(ops) == 0 {
		return nil
	}
	ending := make(map[int64]bool, len(ops))
	rows := map[int64]int64{} // row -> BMP
	for _, o := range ops {
		ending[o.id] = true
		rows[rowOf(o)] = o.bmpID
	}
	var gone, left []int64
	for _, row := range slices.Sorted(maps.Keys(rows)) {
		open := t.openBoardsOfRow(rows[row], row, ending)
		switch {
		case open == 0:
			gone = append(gone, row)
		case row > opRowMax:
			return t.s.internal(what, fmt.Errorf("bmp_ops row %d beyond SetOpBoards' range", row))
		default:
			left = append(left, row<<32|open)
		}
	}
	if len(gone) > 0 {
		if err := t.q.DeleteOps(t.ctx, idList(gone)); err != nil {
			return t.dbErr(what, err)
		}
	}
	if len(left) > 0 {
		if err := t.q.SetOpBoards(t.ctx, idList(left)); err != nil {
			return t.dbErr(what, err)
		}
	}
	t.dropOps(ops)
	return nil
}

// opRowMax is the largest row id a SetOpBoards item takes (2 billion rows,
// some 100 million jobs).
const opRowMax = 1<<31 - 1

// openBoardsOfRow is the mask of the boards of a row whose operations stay
// open: those of the BMP's open operations in the row that are not ending.
func (t *tx) openBoardsOfRow(bmpID, row int64, ending map[int64]bool) int64 {
	list := t.opsOf(bmpID)
	k, _ := searchOp(list, row<<opBoardBits)
	var open int64
	for ; k < len(list) && rowOf(list[k]) == row; k++ {
		if !ending[list[k].id] {
			open |= 1 << list[k].boardNum
		}
	}
	return open
}

// numberOps gives new operations their ids from their rows' ids, which are
// consecutive, in order, the last one the statement's last insert id.
func numberOps(res sql.Result, rows []*opRow) error {
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("%d rows inserted for %d", n, len(rows))
	}
	for k, r := range rows {
		id := last - int64(len(rows)-1-k)
		for _, o := range r.ops {
			o.id = id<<opBoardBits | int64(o.boardNum)
		}
	}
	return nil
}

// idList renders ids as a JSON array: one bulk statement instead of one
// per board keeps allocation, release and completions fast (each
// statement costs tens of microseconds).
func idList(ids []int64) string {
	b := make([]byte, 0, 2+8*len(ids))
	b = append(b, '[')
	for k, id := range ids {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
