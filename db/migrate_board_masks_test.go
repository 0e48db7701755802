package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// Migration 19 stores the operations of one request on several boards of a
// BMP in one row with a board mask. Open operations survive it both ways,
// each keeping its board, kind and links; the service's operation id is the
// row id << 5 + the board number; ids are never handed out twice, not even
// when no operation was open at the migration.
func TestBoardMaskMigration(t *testing.T) {
	ctx := context.Background()
	d, m := seededMigrator(t)
	if _, err := m.DownTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO boards (id, machine_id, x, y, z, cabinet, frame, board_num, bmp_id) VALUES (2, 1, 0, 0, 1, 0, 0, 5, 1)`)
	execSQL(t, d, `INSERT INTO bmp_ops (id, bmp_id, board_id, op, links, created_at)
	      VALUES (6, 1, 1, 'power_off', NULL, 1), (7, 1, 2, 'power_on', NULL, 2), (8, 1, 2, 'link_off', 3, 2)`)
	execSQL(t, d, `UPDATE sqlite_sequence SET seq = 9 WHERE name = 'bmp_ops'`) // 9 was handed out and is done
	if _, err := m.UpTo(ctx, 19); err != nil {
		t.Fatal(err)
	}
	want := []string{"192 board 1 power_off <nil>", "229 board 2 power_on <nil>", "261 board 2 link_off 3"}
	if got := boardOps(t, d); !slices.Equal(got, want) {
		t.Fatalf("operations after up: %q, want %q", got, want)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (bmp_id, boards, op, created_at) VALUES (1, 33, 'power_off', 3)`)
	want = append(want, "320 board 1 power_off <nil>", "325 board 2 power_off <nil>")
	if got := boardOps(t, d); !slices.Equal(got, want) {
		t.Fatalf("a row for boards 0 and 5 after the migrated ones (row 10): %q, want %q", got, want)
	}

	if _, err := m.DownTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	want = []string{"11 power_off <nil> open", "12 power_on <nil> open", "13 link_off 3 open", "14 power_off <nil> open", "15 power_off <nil> open"}
	if got := opRows(t, d, "links"); !slices.Equal(got, want) {
		t.Fatalf("operations after down: %q, want %q (one row each, in order, after every id handed out)", got, want)
	}
	execSQL(t, d, `DELETE FROM bmp_ops`)
	if _, err := m.UpTo(ctx, 19); err != nil {
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (bmp_id, boards, op, created_at) VALUES (1, 1, 'power_on', 4)`)
	if got := boardOps(t, d); !slices.Equal(got, []string{"512 board 1 power_on <nil>"}) {
		t.Fatalf("a new operation after migrating with none open: %q, want row 16 (ids are never reused)", got)
	}
}

// boardOps renders the operations as the service reads them, one per
// board: "id board N op links", by id.
func boardOps(t *testing.T, d *db.DB) []string {
	t.Helper()
	rows, err := d.Write.Query(`SELECT id, board_id, op, links FROM bmp_board_ops ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, board int64
		var op string
		var links *int64
		if err := rows.Scan(&id, &board, &op, &links); err != nil {
			t.Fatal(err)
		}
		l := "<nil>"
		if links != nil {
			l = fmt.Sprint(*links)
		}
		out = append(out, fmt.Sprintf("%d board %d %s %s", id, board, op, l))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
