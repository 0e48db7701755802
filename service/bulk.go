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

// queueOps queues one operation of the given kind for each board index of
// m (switching the links of masks[k] for link operations), in order. Power
// requests supersede every unclaimed older request for their boards; link
// requests come right after the power requests of the same boards, which
// already did that. Boards without a BMP are skipped.
func (t *tx) queueOps(m *machineState, idx []int, job int64, kind OpKind, masks []int64) error {
	if len(idx) == 0 {
		return nil
	}
	items := make([]byte, 0, 16*len(idx))
	items = append(items, '[')
	var ops []*openOp
	var boards []int64
	for k, i := range idx {
		bi := m.info[i]
		if bi.bmpID == 0 {
			continue
		}
		if len(items) > 1 {
			items = append(items, ',')
		}
		items = append(items, '[')
		items = strconv.AppendInt(items, bi.bmpID, 10)
		items = append(items, ',')
		items = strconv.AppendInt(items, bi.id, 10)
		o := &openOp{bmpID: bi.bmpID, boardID: bi.id, job: job, kind: kind, board: m.board(i), boardNum: bi.phys.Board}
		if masks != nil {
			o.links = masks[k]
			items = append(items, ',')
			items = strconv.AppendInt(items, masks[k], 10)
		}
		items = append(items, ']')
		ops = append(ops, o)
		boards = append(boards, bi.id)
		t.change.bmp(bi.bmpID)
	}
	items = append(items, ']')
	if len(ops) == 0 {
		return nil
	}
	if kind == OpPowerOn || kind == OpPowerOff {
		if err := t.supersede(t.unclaimedOf(boards, nil)); err != nil {
			return err
		}
	}
	res, err := t.q.InsertOps(t.ctx, db.InsertOpsParams{JobID: jobRef(job), Op: string(kind), CreatedAt: t.at, Items: string(items)})
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
