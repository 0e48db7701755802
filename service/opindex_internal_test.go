package service

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

// A transaction that does not commit leaves the index of open operations
// exactly as it found it, whatever it changed on the way.
func TestOpIndexRollBackRestoresTheIndex(t *testing.T) {
	op := func(id, bmp, board, job int64, claimed bool) *openOp {
		return &openOp{id: id, bmpID: bmp, boardID: board, job: job, kind: OpPowerOn,
			board: geometry.Board{X: int(board)}, boardNum: int(board), claimed: claimed}
	}
	seed := func() *opIndex {
		x := newOpIndex()
		x.add(op(1, 10, 100, 7, true))
		x.add(op(2, 10, 100, 7, false))
		x.add(op(3, 11, 101, 0, false))
		return x
	}
	tests := []struct {
		name   string
		change func(t *tx)
	}{
		{"add", func(t *tx) { t.indexAdd(op(4, 10, 102, 8, false)) }},
		{"done", func(t *tx) { t.indexDone(t.s.ops.byID[2]) }},
		{"move", func(t *tx) { t.indexMove(100, 200, 12, geometry.Board{X: 9}, 9) }},
		{"all of them, twice over", func(t *tx) {
			t.indexAdd(op(4, 10, 100, 8, false))
			t.indexDone(t.s.ops.byID[1])
			t.indexMove(100, 200, 12, geometry.Board{X: 9}, 9)
			t.indexDone(t.s.ops.byID[4])
			t.indexMove(200, 100, 10, geometry.Board{X: 100}, 100)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := dumpIndex(seed())
			x := seed()
			tr := &tx{s: &Service{ops: x}}
			tc.change(tr)
			if dumpIndex(x) == want {
				t.Fatal("the change changed nothing")
			}
			if p := x.problems(); len(p) > 0 {
				t.Fatalf("index after the change: %v", p)
			}
			tr.rollBack()
			if got := dumpIndex(x); got != want {
				t.Fatalf("after roll back:\n%s\nwant:\n%s", got, want)
			}
			if p := x.problems(); len(p) > 0 {
				t.Fatalf("index after roll back: %v", p)
			}
		})
	}
}

// dumpIndex renders an index with its lists, in a fixed order.
func dumpIndex(x *opIndex) string {
	var ids []int64
	for id := range x.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s := ""
	for _, id := range ids {
		o := x.byID[id]
		s += fmt.Sprintf("%+v bmp list %v board list %v job list %v\n", *o,
			opIDs(x.byBMP[o.bmpID]), opIDs(x.byBoard[o.boardID]), opIDs(x.byJob[o.job]))
	}
	return s
}
