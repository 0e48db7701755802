package service

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// InsertOps stores every kind, BMP, boards mask and links mask that
// opItems packs, in order, with consecutive ids.
func TestInsertOpsStoresWhatOpItemsPacks(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "ops.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, q := range []string{
		`INSERT INTO machines (id, name, priority, width, height, major_fingerprint, minor_fingerprint, created_at) VALUES (1, 'm', 0, 1, 1, '', '', 0)`,
		`INSERT INTO bmps (id, machine_id, cabinet, frame, address) VALUES (1, 1, 0, 0, '10.0.0.1'), (opBMPMax, 1, 0, 1, '10.0.0.2')`,
	} {
		if _, err := d.Write.ExecContext(ctx, strings.ReplaceAll(q, "opBMPMax", strconv.Itoa(opBMPMax))); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows := []*opRow{
		{bmpID: 1, kind: OpPowerOn, boards: 1},
		{bmpID: opBMPMax, kind: OpLinkOff, links: 63, boards: 1<<32 - 1},
		{bmpID: opBMPMax, kind: OpLinkOn, links: 1, boards: 1 << 31},
		{bmpID: 1, kind: OpPowerOff, boards: 0b101},
	}
	items, err := opItems(rows)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.New(d.Write).InsertOps(ctx, db.InsertOpsParams{CreatedAt: 1, Items: items}); err != nil {
		t.Fatal(err)
	}
	stored, err := d.Read.QueryContext(ctx, `SELECT id, bmp_id, boards, op, coalesce(links, 0) FROM bmp_ops ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Close()
	var got, want []string
	for k, r := range rows {
		want = append(want, fmt.Sprintf("%d %d %#x %s %d", k+1, r.bmpID, r.boards, r.kind, r.links))
	}
	for stored.Next() {
		var id, bmp, boards, links int64
		var kind string
		if err := stored.Scan(&id, &bmp, &boards, &kind, &links); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %#x %s %d", id, bmp, boards, kind, links))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	for _, bad := range []*opRow{
		{bmpID: opBMPMax + 1, kind: OpPowerOn, boards: 1},
		{bmpID: 1, kind: "reboot", boards: 1},
		{bmpID: 1, kind: OpLinkOff, links: 64, boards: 1},
		{bmpID: 1, kind: OpPowerOn, boards: 0},
		{bmpID: 1, kind: OpPowerOn, boards: 1 << 32},
	} {
		if _, err := opItems([]*opRow{bad}); err == nil {
			t.Errorf("opItems accepted %+v", *bad)
		}
	}
}

// opRows shares a row among the operations of one BMP, kind and links mask,
// but never puts a board's operation in a row before (or in the row of) an
// earlier operation of the same board: rows are carried out in id order.
func TestOpRowsKeepEachBoardsOrder(t *testing.T) {
	// Boards a and b are boards 0 and 1 of BMP 1, c is board 0 of BMP 2.
	a := func(kind OpKind, links int64) *op {
		return &op{boardID: 10, bmpID: 1, boardNum: 0, kind: kind, links: links}
	}
	b := func(kind OpKind, links int64) *op {
		return &op{boardID: 11, bmpID: 1, boardNum: 1, kind: kind, links: links}
	}
	c := func(kind OpKind, links int64) *op {
		return &op{boardID: 20, bmpID: 2, boardNum: 0, kind: kind, links: links}
	}
	for _, tc := range []struct {
		name string
		ops  []*op
		want []string // per row: "BMP kind links boards: operation indices"
	}{
		{"a job's power-ons, then its link-offs",
			[]*op{a(OpPowerOn, 0), b(OpPowerOn, 0), c(OpPowerOn, 0), a(OpLinkOff, 3), b(OpLinkOff, 3), c(OpLinkOff, 1)},
			[]string{"1 power_on 0 0b11: [0 1]", "2 power_on 0 0b1: [2]", "1 link_off 3 0b11: [3 4]", "2 link_off 1 0b1: [5]"}},
		{"links masks differ",
			[]*op{a(OpLinkOff, 3), b(OpLinkOff, 5)},
			[]string{"1 link_off 3 0b1: [0]", "1 link_off 5 0b10: [1]"}},
		{"another board may join an earlier row",
			[]*op{a(OpLinkOff, 3), a(OpPowerOn, 0), b(OpLinkOff, 3)},
			[]string{"1 link_off 3 0b11: [0 2]", "1 power_on 0 0b1: [1]"}},
		{"a board's later operation never joins an earlier row",
			[]*op{a(OpLinkOff, 3), a(OpPowerOn, 0), a(OpLinkOff, 3)},
			[]string{"1 link_off 3 0b1: [0]", "1 power_on 0 0b1: [1]", "1 link_off 3 0b1: [2]"}},
		{"nor its own row",
			[]*op{a(OpPowerOff, 0), a(OpPowerOff, 0)},
			[]string{"1 power_off 0 0b1: [0]", "1 power_off 0 0b1: [1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := opRows(tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				var idx []int
				for _, o := range r.ops {
					idx = append(idx, slices.Index(tc.ops, o))
				}
				got = append(got, fmt.Sprintf("%d %s %d %#b: %v", r.bmpID, r.kind, r.links, r.boards, idx))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rows %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := opRows([]*op{{boardID: 1, bmpID: 1, boardNum: 32, kind: OpPowerOn}}); err == nil {
		t.Error("opRows accepted board number 32")
	}
}
