package service

// Bulk statements: a JSON array of ids or items is one SQL statement
// instead of one per board, which is what keeps allocation, release and
// BMP completions fast (each statement costs tens of microseconds).

import (
	"database/sql"
	"fmt"
	"strconv"

	"github.com/spalloc/spallocd/db"
)

// idList renders ids as a JSON array.
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

// packOp packs what InsertOps needs of an operation into one integer (see
// queries/ops.sql): board id in bits 0-31, BMP id in bits 32-55, links mask
// in bits 56-61. An array of integers costs SQLite a fraction of an array of
// arrays to read.
func packOp(o *openOp) (int64, error) {
	if o.boardID <= 0 || o.boardID >= 1<<32 || o.bmpID <= 0 || o.bmpID >= 1<<24 || o.links < 0 || o.links >= 1<<6 {
		return 0, fmt.Errorf("BMP operation out of the packed range: board %d, BMP %d, links %d", o.boardID, o.bmpID, o.links)
	}
	return o.boardID | o.bmpID<<32 | o.links<<56, nil
}

// queueOps queues one operation of the given kind for each board index of
// m (switching the links of masks[k] for link operations), in order. Power
// requests supersede every unclaimed older request for their boards; link
// requests come right after the power requests of the same boards, which
// already did that. Boards without a BMP are skipped.
func (t *tx) queueOps(m *machineState, idx []int, job int64, kind OpKind, masks []int64) error {
	if len(idx) == 0 {
		return nil
	}
	packed := make([]int64, 0, len(idx))
	var ops []*openOp
	var boards []int64
	for k, i := range idx {
		bi := m.info[i]
		if bi.bmpID == 0 {
			continue
		}
		o := &openOp{bmpID: bi.bmpID, boardID: bi.id, job: job, kind: kind, board: m.board(i), boardNum: bi.phys.Board}
		if masks != nil {
			o.links = masks[k]
		}
		item, err := packOp(o)
		if err != nil {
			return t.dbErr("queue BMP operations", err)
		}
		packed = append(packed, item)
		ops = append(ops, o)
		boards = append(boards, bi.id)
		t.change.bmp(bi.bmpID)
	}
	if len(ops) == 0 {
		return nil
	}
	if kind == OpPowerOn || kind == OpPowerOff {
		if err := t.supersede(t.unclaimedOf(boards, nil)); err != nil {
			return err
		}
	}
	res, err := t.q.InsertOps(t.ctx, db.InsertOpsParams{JobID: jobRef(job), Op: string(kind), CreatedAt: t.at, Items: idList(packed)})
	if err != nil {
		return t.dbErr("queue BMP operations", err)
	}
	return t.indexInserted(res, ops)
}

// indexInserted gives the rows of one InsertOps their ids (consecutive, in
// order, the last one the statement's last insert id) and indexes them.
func (t *tx) indexInserted(res sql.Result, ops []*openOp) error {
	last, err := res.LastInsertId()
	if err != nil {
		return t.dbErr("queue BMP operations", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.dbErr("queue BMP operations", err)
	}
	if n != int64(len(ops)) {
		return t.dbErr("queue BMP operations", fmt.Errorf("%d rows inserted for %d operations", n, len(ops)))
	}
	for k, o := range ops {
		o.id = last - int64(len(ops)-1-k)
		t.indexAdd(o)
	}
	return nil
}

// supersede marks open operations done: a newer request wins over them.
func (t *tx) supersede(ops []*openOp) error {
	if len(ops) == 0 {
		return nil
	}
	if err := t.q.SupersedeOps(t.ctx, db.SupersedeOpsParams{DoneAt: &t.at, Ids: idList(opIDs(ops))}); err != nil {
		return t.dbErr("supersede operations", err)
	}
	for _, o := range ops {
		t.indexDone(o)
	}
	return nil
}
