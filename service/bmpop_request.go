package service

// Requesting BMP operations, and the rule that a newer power request for a
// board supersedes its older requests that no worker holds (the last
// request wins; requests a worker holds finish first, and ClaimBMPOps hands
// out a board's requests in order).

import (
	"database/sql"
	"fmt"
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
	items, err := opItems(ops)
	if err != nil {
		return t.s.internal("request BMP operations", err)
	}
	res, err := t.q.InsertOps(t.ctx, db.InsertOpsParams{JobID: jobRef(ops[0].job), CreatedAt: unix(t.now), Items: items})
	if err != nil {
		return t.dbErr("request BMP operations", err)
	}
	if err := numberOps(res, ops); err != nil {
		return t.s.internal("request BMP operations", err)
	}
	t.addOps(ops)
	for _, o := range ops {
		t.change.bmp(o.bmpID)
	}
	return nil
}

// opItems renders new operations as InsertOps reads them: a JSON array
// with one integer per operation, board id + BMP id << opIDBits + links
// mask << 2*opIDBits + kind << opKindShift (opKinds).
func opItems(ops []*op) (string, error) {
	b := make([]byte, 0, 2+20*len(ops))
	b = append(b, '[')
	for k, o := range ops {
		kind := slices.Index(opKinds, o.kind)
		if o.boardID <= 0 || o.boardID > opIDMax || o.bmpID <= 0 || o.bmpID > opIDMax || o.links < 0 || o.links > 63 || kind < 0 {
			return "", fmt.Errorf("%s operation on board %d (BMP %d, links %d) out of InsertOps' range", o.kind, o.boardID, o.bmpID, o.links)
		}
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o.boardID|o.bmpID<<opIDBits|o.links<<(2*opIDBits)|int64(kind)<<opKindShift, 10)
	}
	return string(append(b, ']')), nil
}

// opIDBits is the width of a board or BMP id in an InsertOps item: 67
// million. Ids grow as machines are re-created (a re-created 1200-board
// machine takes 1200 new board ids), so this is some 55,000 re-creations
// of the largest machine; beyond it requests fail with an internal error
// rather than touch the wrong board. The links mask takes 6 bits above
// them and the kind 2 bits above those.
const (
	opIDBits    = 26
	opIDMax     = 1<<opIDBits - 1
	opKindShift = 2*opIDBits + 6
)

// opKinds numbers the kinds in InsertOps items (queries/ops.sql decodes
// them in this order).
var opKinds = []OpKind{OpPowerOn, OpPowerOff, OpLinkOff, OpLinkOn}

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

// endOps ends open operations, whatever their outcome: their rows go
// (bmp_ops keeps the open ones only) and so do they from the world.
func (t *tx) endOps(ops []*op, what string) error {
	if len(ops) == 0 {
		return nil
	}
	ids := make([]int64, len(ops))
	for k, o := range ops {
		ids[k] = o.id
	}
	if err := t.q.DeleteOps(t.ctx, idList(ids)); err != nil {
		return t.dbErr(what, err)
	}
	t.dropOps(ops)
	return nil
}

// numberOps gives the rows of one InsertOps their ids: consecutive, in
// order, the last one the statement's last insert id.
func numberOps(res sql.Result, ops []*op) error {
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != int64(len(ops)) {
		return fmt.Errorf("%d rows inserted for %d operations", n, len(ops))
	}
	for k, o := range ops {
		o.id = last - int64(len(ops)-1-k)
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
