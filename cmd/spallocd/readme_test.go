package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/service"
)

// TestREADMEHistoryRecipes runs every SQL recipe of the README against a
// database with a little history: the queries must keep working as the
// schema evolves, and answer what they claim to.
func TestREADMEHistoryRecipes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	recipes := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(recipes) < 4 {
		t.Fatalf("found %d SQL recipes in the README, want at least 4", len(recipes))
	}
	spinn24, err := os.ReadFile("../../examples/spinn-24.toml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := testutil.NewService(t, string(spinn24))
	svc.Clock.Set(time.Now().Add(-time.Hour))

	// Job 1 holds board (1, 0, 2) and ends; job 2 times out while queued.
	one := 1.0
	job1, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "alice", Keepalive: &one,
		Shape: service.Shape{Kind: service.ShapeBoard, X: 1, Y: 0, Z: 2}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.CompleteAllOps(t, svc.Service)
	whole, err := svc.CreateJob(ctx, service.CreateJobRequest{Owner: "bob", Keepalive: &one,
		Shape: service.Shape{Kind: service.ShapeRect, W: 4, H: 2}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Clock.Advance(2 * time.Second)
	if err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.CompleteAllOps(t, svc.Service)

	conn, err := sql.Open("sqlite", "file:"+svc.DBPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answers := make([]string, len(recipes))
	for i, r := range recipes {
		answers[i] = runQuery(t, conn, r[1])
	}
	wantIn := func(i int, what string, parts ...string) {
		for _, p := range parts {
			if !strings.Contains(answers[i], p) {
				t.Errorf("recipe %d (%s) answered %q, want %q in it", i+1, what, answers[i], p)
			}
		}
	}
	wantIn(0, "who used the board", "alice", itoa(job1))
	wantIn(1, "waits per machine", "spinn-24")
	wantIn(2, "timed out", "bob", itoa(whole), "Cancelled: Job timed out.", "alice", "Job timed out.")
	wantIn(3, "job history", "Job timed out.")
}

func runQuery(t *testing.T, conn *sql.DB, query string) string {
	t.Helper()
	rows, err := conn.Query(query)
	if err != nil {
		t.Fatalf("README recipe failed: %v\n%s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out.WriteString(toString(v) + "|")
		}
		out.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func itoa(i int64) string { return fmt.Sprint(i) }
