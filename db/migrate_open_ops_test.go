package db_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// Migration 18 keeps only the open BMP operations (finished ones were never
// read again) and moves the jobs' partial indexes from state to
// destroyed_at; an operation id is still never handed out twice, and the
// way down restores the columns.
func TestOpenOperationsMigration(t *testing.T) {
	ctx := context.Background()
	d, m := seededMigrator(t)
	if _, err := m.DownTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (id, bmp_id, board_id, op, created_at, done_at, outcome)
	      VALUES (5, 1, 1, 'power_on', 1, 2, 'ok'), (6, 1, 1, 'power_off', 3, NULL, NULL), (7, 1, 1, 'power_on', 3, 4, 'superseded')`)
	if _, err := m.UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"6 power_off <nil> open"}) {
		t.Fatalf("operations after up: %q", got)
	}
	for _, gone := range []string{"done_at", "outcome"} {
		if slices.Contains(columns(t, d, "bmp_ops"), gone) {
			t.Errorf("bmp_ops still has %s", gone)
		}
	}
	execSQL(t, d, `DELETE FROM bmp_ops WHERE id = 6`)
	execSQL(t, d, `INSERT INTO bmp_ops (bmp_id, board_id, op, created_at) VALUES (1, 1, 'power_on', 5)`)
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"8 power_on <nil> open"}) {
		t.Fatalf("a new operation after the last one was deleted: %q (ids are never reused)", got)
	}
	if _, err := m.DownTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"8 power_on <nil> open"}) {
		t.Fatalf("operations after down: %q", got)
	}
}

// Queries of live and answerable jobs read the jobs' partial indexes, not
// the whole table (which keeps every job ever made).
func TestJobIndexesServeTheirQueries(t *testing.T) {
	d := openTemp(t)
	for _, c := range []struct{ query, index string }{
		{`SELECT id FROM jobs WHERE destroyed_at IS NULL ORDER BY id`, "jobs_live"},
		{`SELECT id FROM jobs WHERE destroyed_at IS NOT NULL AND forgotten = 0 ORDER BY destroyed_at, id LIMIT 5`, "jobs_answerable"},
		{`SELECT count(*) FROM jobs WHERE destroyed_at IS NOT NULL AND forgotten = 0`, "jobs_answerable"},
	} {
		plan := queryPlan(t, d, c.query)
		if !slices.ContainsFunc(plan, func(s string) bool { return strings.Contains(s, "INDEX "+c.index) }) {
			t.Errorf("%s: plan %q does not use %s", c.query, plan, c.index)
		}
	}
}

// queryPlan is the detail column of EXPLAIN QUERY PLAN query.
func queryPlan(t *testing.T, d *db.DB, query string) []string {
	t.Helper()
	rows, err := d.Read.Query("EXPLAIN QUERY PLAN " + query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
