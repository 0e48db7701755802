package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/spalloc/spallocd/db"
)

// Migration 3 turns a link operation's link into a mask of links (one row
// per board) and back: operations keep their ids, open or done, and ids are
// never handed out twice.
func TestBMPOpLinksMigrationKeepsOperations(t *testing.T) {
	ctx := context.Background()
	d, m := seededMigrator(t)
	execSQL(t, d, `INSERT INTO jobs (id, owner, args, kwargs, request, state, created_at) VALUES (1, 'o', '[]', '{}', '{}', 2, 0)`)
	if _, err := m.DownTo(ctx, 2); err != nil { // to version 2: one row per link
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (id, bmp_id, board_id, job_id, op, link, created_at, done_at, outcome)
	      VALUES (5, 1, 1, 1, 'power_on', NULL, 1, 2, 'ok'), (6, 1, 1, 1, 'link_off', 3, 1, NULL, NULL)`)
	execSQL(t, d, `UPDATE sqlite_sequence SET seq = 9 WHERE name = 'bmp_ops'`) // ids up to 9 were handed out
	// Up to 17 only: 18 deletes the finished operations.
	if _, err := m.UpTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"5 power_on <nil> done", "6 link_off 8 open"}) {
		t.Fatalf("after up: %q", got)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (bmp_id, board_id, op, links, created_at) VALUES (1, 1, 'link_off', 41, 3)`) // east, west, south
	if _, err := m.DownTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"5 power_on <nil> done", "6 link_off 3 open", "10 link_off 0 open", "11 link_off 3 open", "12 link_off 5 open"}
	if got := opRows(t, d, "link"); !slices.Equal(got, want) {
		t.Fatalf("after down: %q, want %q", got, want)
	}
	if _, err := m.UpTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (bmp_id, board_id, op, created_at) VALUES (1, 1, 'power_off', 4)`)
	if got := opRows(t, d, "links"); got[len(got)-1] != "13 power_off <nil> open" {
		t.Fatalf("a new operation after down and up: %q", got)
	}
}

// execSQL runs q on the writer, failing the test if it fails.
func execSQL(t *testing.T, d *db.DB, q string) {
	t.Helper()
	if _, err := d.Write.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// seededMigrator opens a temporary database with board 1 (seedBoard) and
// a migrator for it.
func seededMigrator(t *testing.T) (*db.DB, *goose.Provider) {
	t.Helper()
	d := openTemp(t)
	seedBoard(t, d)
	m, err := db.NewMigrator(d.Write)
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

// seedBoard adds machine 1 with BMP 1 and its board 1 (board number 0), for
// operations.
func seedBoard(t *testing.T, d *db.DB) {
	t.Helper()
	execSQL(t, d, `INSERT INTO machines (id, name, priority, width, height, major_fingerprint, minor_fingerprint, created_at)
	               VALUES (1, 'm', 0, 1, 1, '', '', 0)`)
	execSQL(t, d, `INSERT INTO bmps (id, machine_id, cabinet, frame, address) VALUES (1, 1, 0, 0, '10.0.0.1')`)
	execSQL(t, d, `INSERT INTO boards (id, machine_id, x, y, z, cabinet, frame, board_num, bmp_id) VALUES (1, 1, 0, 0, 0, 0, 0, 0, 1)`)
}

// opRows renders the operations as "id op link(s) open|done", by id (from
// migration 18 on every row is an open operation; before migration 19 a row
// is one operation).
func opRows(t *testing.T, d *db.DB, column string) []string {
	t.Helper()
	open := "1"
	if slices.Contains(columns(t, d, "bmp_ops"), "done_at") {
		open = "done_at IS NULL"
	}
	rows, err := d.Write.Query(`SELECT id, op, ` + column + `, ` + open + ` FROM bmp_ops ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var op string
		var link *int64
		var open bool
		if err := rows.Scan(&id, &op, &link, &open); err != nil {
			t.Fatal(err)
		}
		l, state := "<nil>", "done"
		if link != nil {
			l = fmt.Sprint(*link)
		}
		if open {
			state = "open"
		}
		out = append(out, fmt.Sprintf("%d %s %s %s", id, op, l, state))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
