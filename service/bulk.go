package service

// Bulk statements: a JSON array of ids or items is one SQL statement
// instead of one per board, which is what keeps allocation, release and
// BMP completions fast (each statement costs tens of microseconds).

import (
	"strconv"

	"github.com/spalloc/spallocd/db"
	"github.com/spalloc/spallocd/service/geometry"
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
// m (links[k] for link operations), in order. Power requests supersede
// every unclaimed older request for their boards; link requests come right
// after the power requests of the same boards, which already did that.
// Boards without a BMP are skipped.
func (t *tx) queueOps(m *machineState, idx []int, job int64, kind OpKind, links []geometry.Link) error {
	if len(idx) == 0 {
		return nil
	}
	power := kind == OpPowerOn || kind == OpPowerOff
	items := make([]byte, 0, 16*len(idx))
	items = append(items, '[')
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
		if links != nil {
			items = append(items, ',')
			items = strconv.AppendInt(items, int64(links[k]), 10)
		}
		items = append(items, ']')
		boards = append(boards, bi.id)
		t.change.bmp(bi.bmpID)
	}
	items = append(items, ']')
	if len(boards) == 0 {
		return nil
	}
	if power {
		err := t.q.SupersedeOpenOpsOfBoards(t.ctx, db.SupersedeOpenOpsOfBoardsParams{DoneAt: &t.at, BoardIds: idList(boards)})
		if err != nil {
			return t.dbErr("supersede operations", err)
		}
	}
	err := t.q.InsertOps(t.ctx, db.InsertOpsParams{JobID: jobRef(job), Op: string(kind), CreatedAt: t.at, Items: string(items)})
	if err != nil {
		return t.dbErr("queue BMP operations", err)
	}
	return nil
}
