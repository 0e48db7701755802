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

// InsertOps stores every kind, board, BMP and links mask that opItems
// packs, in order, with consecutive ids.
func TestInsertOpsStoresWhatOpItemsPacks(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "ops.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, q := range []string{
		`INSERT INTO machines (id, name, priority, width, height, major_fingerprint, minor_fingerprint, created_at) VALUES (1, 'm', 0, 1, 1, '', '', 0)`,
		`INSERT INTO bmps (id, machine_id, cabinet, frame, address) VALUES (1, 1, 0, 0, '10.0.0.1'), (opIDMax, 1, 0, 1, '10.0.0.2')`,
		`INSERT INTO boards (id, machine_id, x, y, z, bmp_id) VALUES (1, 1, 0, 0, 0, 1), (opIDMax, 1, 0, 0, 1, opIDMax)`,
	} {
		if _, err := d.Write.ExecContext(ctx, replaceMax(q)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ops := []*op{
		{boardID: 1, bmpID: 1, kind: OpPowerOn},
		{boardID: opIDMax, bmpID: opIDMax, kind: OpLinkOff, links: 63},
		{boardID: 1, bmpID: opIDMax, kind: OpLinkOn, links: 1},
		{boardID: opIDMax, bmpID: 1, kind: OpPowerOff},
	}
	items, err := opItems(ops)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.New(d.Write).InsertOps(ctx, db.InsertOpsParams{CreatedAt: 1, Items: items}); err != nil {
		t.Fatal(err)
	}
	rows, err := d.Read.QueryContext(ctx, `SELECT id, board_id, bmp_id, op, coalesce(links, 0) FROM bmp_ops ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got, want []string
	for k, o := range ops {
		want = append(want, fmt.Sprintf("%d %d %d %s %d", k+1, o.boardID, o.bmpID, o.kind, o.links))
	}
	for rows.Next() {
		var id, board, bmp, links int64
		var kind string
		if err := rows.Scan(&id, &board, &bmp, &kind, &links); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %d %s %d", id, board, bmp, kind, links))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	for _, bad := range []*op{{boardID: opIDMax + 1, bmpID: 1, kind: OpPowerOn}, {boardID: 1, bmpID: 1, kind: "reboot"}, {boardID: 1, bmpID: 1, kind: OpLinkOff, links: 64}} {
		if _, err := opItems([]*op{bad}); err == nil {
			t.Errorf("opItems accepted %+v", *bad)
		}
	}
}

func replaceMax(q string) string {
	return strings.ReplaceAll(q, "opIDMax", strconv.Itoa(opIDMax))
}
