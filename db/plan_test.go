package db_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every query of the open BMP operations reads the partial index of open
// ones, never the whole history of operations (which grows with every job:
// the admin pages list open operations on each refresh).
func TestOpenOperationQueriesDoNotReadTheHistory(t *testing.T) {
	d := openTemp(t)
	checked := 0
	for name, query := range namedQueries(t) {
		if !strings.Contains(query, "bmp_ops") || !strings.Contains(query, "done_at IS NULL") ||
			strings.Contains(query, "id IN (SELECT value FROM json_each") { // by primary key
			continue
		}
		checked++
		rows, err := d.Read.Query("EXPLAIN QUERY PLAN "+query, make([]any, strings.Count(query, "?"))...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "USING") && isOpsTable(step, query) {
				t.Errorf("%s reads all of bmp_ops: %v", name, plan)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d queries of open operations found in queries/*.sql", checked)
	}
}

// isOpsTable reports whether a plan step scans bmp_ops (by name or alias).
func isOpsTable(step, query string) bool {
	table := strings.Fields(step)[1]
	return table == "bmp_ops" || regexp.MustCompile(`bmp_ops\s+(AS\s+)?`+regexp.QuoteMeta(table)+`\b`).MatchString(query)
}

// namedQueries reads queries/*.sql: name -> SQL with sqlc's arguments as
// plain parameters.
func namedQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../queries/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no query files: %v", err)
	}
	arg := regexp.MustCompile(`sqlc\.n?arg\(\w+\)`)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range strings.Split(string(b), "-- name: ")[1:] {
			name, body, _ := strings.Cut(part, "\n")
			out[strings.Fields(name)[0]] = arg.ReplaceAllString(body, "?")
		}
	}
	return out
}
