package service

// The open BMP operations in memory. The bmp_ops rows stay the record (a
// restart rebuilds this index from them); the index answers what claims,
// completions and new requests ask of the open ones (which to hand out,
// which a new request supersedes, whether a job still waits for any)
// without a query, so that each of those costs one bulk statement.
//
// Claims live only here: a restart hands every open operation out again
// anyway, so a claim written to the database would be a write transaction
// per worker wake-up that no restart reads. The row counts an attempt when
// its outcome is recorded.
//
// The index belongs to the writer: it is read and changed only under the
// writer lock. A transaction changes it as it changes the rows and puts it
// back (undo) when it does not commit. CheckConsistency compares it with
// the rows.

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/spalloc/spallocd/service/geometry"
)

// openOp is one open operation (a bmp_ops row with done_at NULL).
type openOp struct {
	id       int64
	bmpID    int64
	boardID  int64
	job      int64 // 0: none
	kind     OpKind
	links    int64 // link operations: bit l for link l
	board    geometry.Board
	boardNum int

	claimed   bool    // handed out to a worker and not done yet (memory only)
	claimedAt float64 // when, as Unix seconds
}

func (o *openOp) bmpOp() BMPOp {
	op := BMPOp{ID: o.id, BMPID: o.bmpID, Board: o.board, BoardNum: o.boardNum, Kind: o.kind}
	if o.links != 0 {
		op.Links = linksOf(o.links)
		op.Link = op.Links[0]
	}
	if o.job != 0 {
		job := o.job
		op.JobID = &job
	}
	return op
}

// opIndex holds the open operations by id, by BMP, by board and by job;
// every list is in request (id) order.
type opIndex struct {
	byID    map[int64]*openOp
	byBMP   map[int64][]*openOp
	byBoard map[int64][]*openOp
	byJob   map[int64][]*openOp
}

func newOpIndex() *opIndex {
	return &opIndex{byID: map[int64]*openOp{}, byBMP: map[int64][]*openOp{},
		byBoard: map[int64][]*openOp{}, byJob: map[int64][]*openOp{}}
}

func (x *opIndex) add(o *openOp) {
	x.byID[o.id] = o
	x.byBMP[o.bmpID] = insertByID(x.byBMP[o.bmpID], o)
	x.byBoard[o.boardID] = insertByID(x.byBoard[o.boardID], o)
	if o.job != 0 {
		x.byJob[o.job] = insertByID(x.byJob[o.job], o)
	}
}

func (x *opIndex) remove(o *openOp) {
	delete(x.byID, o.id)
	removeFrom(x.byBMP, o.bmpID, o)
	removeFrom(x.byBoard, o.boardID, o)
	if o.job != 0 {
		removeFrom(x.byJob, o.job, o)
	}
}

func insertByID(list []*openOp, o *openOp) []*openOp {
	if n := len(list); n == 0 || list[n-1].id < o.id {
		return append(list, o) // the usual case: a new request
	}
	i, _ := slices.BinarySearchFunc(list, o.id, func(e *openOp, id int64) int { return cmp.Compare(e.id, id) })
	return slices.Insert(list, i, o)
}

func removeFrom(m map[int64][]*openOp, key int64, o *openOp) {
	list := m[key]
	if i := slices.Index(list, o); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(m, key)
		return
	}
	m[key] = list
}

// hasClaimed reports whether a board has an operation in flight.
func (x *opIndex) hasClaimed(boardID int64) bool {
	return slices.ContainsFunc(x.byBoard[boardID], func(o *openOp) bool { return o.claimed })
}

// ---- changes inside a transaction (undone unless it commits) ----

// indexAdd records a new open operation.
func (t *tx) indexAdd(o *openOp) {
	x := t.s.ops
	x.add(o)
	t.undo = append(t.undo, func() { x.remove(o) })
}

// indexDone forgets an operation that is done (or superseded).
func (t *tx) indexDone(o *openOp) {
	x := t.s.ops
	x.remove(o)
	t.undo = append(t.undo, func() { x.add(o) })
}

// indexMove gives the open operations of a board to another board (a
// re-created machine's board with the same slot).
func (t *tx) indexMove(from, to int64, bmpID int64, b geometry.Board, boardNum int) {
	x := t.s.ops
	for _, o := range slices.Clone(x.byBoard[from]) {
		old := *o
		x.remove(o)
		o.boardID, o.bmpID, o.board, o.boardNum = to, bmpID, b, boardNum
		x.add(o)
		t.undo = append(t.undo, func() {
			x.remove(o)
			*o = old
			x.add(o)
		})
	}
}

// rollBack undoes the index changes of a transaction that did not commit.
func (t *tx) rollBack() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// unclaimedOf lists the unclaimed open operations of the boards that match
// (in request order per board): those a newer request supersedes.
func (t *tx) unclaimedOf(boardIDs []int64, match func(*openOp) bool) []*openOp {
	var out []*openOp
	for _, id := range boardIDs {
		for _, o := range t.s.ops.byBoard[id] {
			if !o.claimed && (match == nil || match(o)) {
				out = append(out, o)
			}
		}
	}
	return out
}

// openOpsOfJob counts the open operations of a job on boards it still
// holds: while there are any, the job is in state power.
func (t *tx) openOpsOfJob(id int64) int {
	n := 0
	for _, o := range t.s.ops.byJob[id] {
		ref, live := t.s.mirror.boardIDs[o.boardID]
		if !live {
			continue
		}
		if m := t.machine(ref.machine); m != nil && m.dyn[ref.index].job == id {
			n++
		}
	}
	return n
}

// problems reports lists that disagree with byID (CheckConsistency).
func (x *opIndex) problems() []string {
	var out []string
	check := func(what string, lists map[int64][]*openOp, key func(*openOp) int64) {
		n := 0
		for k, list := range lists {
			n += len(list)
			for i, o := range list {
				if x.byID[o.id] != o || key(o) != k || (i > 0 && list[i-1].id >= o.id) {
					out = append(out, fmt.Sprintf("operation %d is misplaced in the index by %s (%d)", o.id, what, k))
				}
			}
		}
		if what != "job" && n != len(x.byID) {
			out = append(out, fmt.Sprintf("the index by %s holds %d operations, not %d", what, n, len(x.byID)))
		}
	}
	check("BMP", x.byBMP, func(o *openOp) int64 { return o.bmpID })
	check("board", x.byBoard, func(o *openOp) int64 { return o.boardID })
	check("job", x.byJob, func(o *openOp) int64 { return o.job })
	return out
}

// linkMask is the bit mask of a set of links (bmp_ops.links).
func linkMask(links ...geometry.Link) int64 {
	var m int64
	for _, l := range links {
		m |= 1 << l
	}
	return m
}

// linksOf lists the links of a mask, ascending.
func linksOf(mask int64) []geometry.Link {
	var out []geometry.Link
	for _, l := range geometry.AllLinks {
		if mask&(1<<l) != 0 {
			out = append(out, l)
		}
	}
	return out
}

func opIDs(ops []*openOp) []int64 {
	ids := make([]int64, len(ops))
	for k, o := range ops {
		ids[k] = o.id
	}
	return ids
}
