package service

// BMP operations (doc.go, "BMP operations"): the bmp_ops rows are the
// record; the committed world holds the open ones per BMP, with their
// claims, so that requests, claims and completions need no queries. This
// file is how a transaction reads and changes them; bmpop_request.go,
// bmpop_claim.go and bmpop_complete.go are the operations themselves.

import (
	"cmp"
	"slices"
)

// opsOf lists the open operations of a BMP as this transaction sees them,
// in id order. The list must not be changed.
func (t *tx) opsOf(bmpID int64) []*op {
	if b, ok := t.ops[bmpID]; ok {
		return b.ops
	}
	if b, ok := t.base.ops.get(bmpID); ok {
		return b.ops
	}
	return nil
}

// editOps returns the transaction's copy of a BMP's operations, copying
// them whole when first asked.
func (t *tx) editOps(bmpID int64) *bmpOps {
	if b, ok := t.ops[bmpID]; ok {
		return b
	}
	base, _ := t.base.ops.get(bmpID)
	b := base.clone()
	t.ops[bmpID] = b
	return b
}

// op finds an open operation by id, or nil.
func (t *tx) op(id int64) *op {
	if t.opsDone[id] {
		return nil
	}
	bmpID, ok := t.opBMP[id]
	if !ok {
		if bmpID, ok = t.base.opBMP.get(id); !ok {
			return nil
		}
	}
	list := t.opsOf(bmpID)
	if k, found := searchOp(list, id); found {
		return list[k]
	}
	return nil
}

func searchOp(list []*op, id int64) (int, bool) {
	return slices.BinarySearchFunc(list, id, func(o *op, id int64) int { return cmp.Compare(o.id, id) })
}

// opsOfBoard lists the open operations of one board (of BMP bmpID), in id
// order.
func (t *tx) opsOfBoard(bmpID, boardID int64) []*op {
	var out []*op
	for _, o := range t.opsOf(bmpID) {
		if o.boardID == boardID {
			out = append(out, o)
		}
	}
	return out
}

// addOps records new open operations (ids ascending).
func (t *tx) addOps(ops []*op) {
	for _, o := range ops {
		b := t.editOps(o.bmpID)
		if n := len(b.ops); n > 0 && b.ops[n-1].id > o.id {
			k, _ := searchOp(b.ops, o.id)
			b.ops = slices.Insert(b.ops, k, o)
		} else {
			b.ops = append(b.ops, o)
		}
		t.opBMP[o.id] = o.bmpID
	}
}

// dropOps forgets operations that are done (or superseded).
func (t *tx) dropOps(ops []*op) {
	gone := make(map[int64]bool, len(ops))
	bmps := map[int64]bool{}
	for _, o := range ops {
		gone[o.id] = true
		bmps[o.bmpID] = true
		t.opsDone[o.id] = true
	}
	for bmpID := range bmps {
		b := t.editOps(bmpID)
		b.ops = slices.DeleteFunc(b.ops, func(o *op) bool { return gone[o.id] })
	}
}

// replaceOp puts a changed copy of an open operation in its place.
func (t *tx) replaceOp(o *op) {
	b := t.editOps(o.bmpID)
	if k, found := searchOp(b.ops, o.id); found {
		b.ops[k] = o
	}
}

// openOpsOfJob counts the open operations of a job on boards it still
// holds: while there are any, the job is in state power.
func (t *tx) openOpsOfJob(j *job) int {
	m := t.machine(j.machine)
	if m == nil {
		return 0
	}
	seen := map[int64]bool{}
	n := 0
	for _, b := range j.boards {
		bmpID := m.info[m.index(b)].bmpID
		if seen[bmpID] {
			continue
		}
		seen[bmpID] = true
		for _, o := range t.opsOf(bmpID) {
			if o.job == j.id && t.holds(j.id, o.boardID) {
				n++
			}
		}
	}
	return n
}
