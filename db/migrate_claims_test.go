package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/spalloc/spallocd/db"
)

// Migration 16 drops bmp_ops.claimed_at (claims are memory-only leases) and
// puts it back on the way down; operations keep their rows either way.
func TestClaimedAtMigrationKeepsOperations(t *testing.T) {
	ctx := context.Background()
	d, m := seededMigrator(t)
	if _, err := m.DownTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	execSQL(t, d, `INSERT INTO bmp_ops (id, bmp_id, board_id, op, created_at) VALUES (7, 1, 1, 'power_on', 1)`)
	if slices.Contains(columns(t, d, "bmp_ops"), "claimed_at") {
		t.Fatalf("bmp_ops still has claimed_at: %v", columns(t, d, "bmp_ops"))
	}
	if _, err := m.DownTo(ctx, 15); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(columns(t, d, "bmp_ops"), "claimed_at") {
		t.Fatalf("down from 16 did not restore claimed_at: %v", columns(t, d, "bmp_ops"))
	}
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"7 power_on <nil> open"}) {
		t.Fatalf("operations after down: %q", got)
	}
	if _, err := m.UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	if got := opRows(t, d, "links"); !slices.Equal(got, []string{"7 power_on <nil> open"}) {
		t.Fatalf("operations after up: %q", got)
	}
}

// columns lists the columns of table, in order.
func columns(t *testing.T, d *db.DB, table string) []string {
	t.Helper()
	return names(t, d, `SELECT name FROM pragma_table_info(?)`, table)
}
