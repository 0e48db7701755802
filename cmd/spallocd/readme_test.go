package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// readmeBlock returns the README's fenced block of the given language that
// contains marker.
func readmeBlock(t *testing.T, lang, marker string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], marker) {
			return m[1]
		}
	}
	t.Fatalf("the README has no %s block with %q", lang, marker)
	return ""
}

// TestREADMEBackupRecipeWorksEveryDay runs the README's daily backup script
// (with its paths moved into a temporary folder and `date` answering the
// day we choose): each day adds a dated copy, a second run on the same day
// fails without touching the first copy, and copies older than two weeks go.
func TestREADMEBackupRecipeWorksEveryDay(t *testing.T) {
	spallocd, _ := binaries(t)
	script := readmeBlock(t, "sh", "spallocd backup")
	root := t.TempDir()
	svc := testutil.NewService(t, "[[machine]]\nname = \"sb\"\nsingle_board = { bmp_ip = \"10.0.0.1\", spinnaker_ip = \"10.0.0.2\" }\n")
	dbPath := svc.DBPath // spalloc.db, open while the backups are made
	if _, err := svc.CreateJob(context.Background(), service.CreateJobRequest{Owner: "alice", Shape: service.Shape{Kind: service.ShapeOneBoard}}); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(root, "backup", "spallocd")
	script = strings.NewReplacer("/usr/local/bin/spallocd", spallocd, "/var/lib/spallocd", filepath.Dir(dbPath),
		"/backup/spallocd", backups).Replace(script)
	bin := filepath.Join(root, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(root, "recipe.sh"), []byte(script), 0o755)
	runOn := func(day string) (string, error) {
		os.WriteFile(filepath.Join(bin, "date"), []byte("#!/bin/sh\necho "+day+"\n"), 0o755)
		cmd := exec.Command("sh", filepath.Join(root, "recipe.sh"))
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := runOn("2026-03-01"); err != nil {
		t.Fatalf("day 1: %v\n%s", err, out)
	}
	old := filepath.Join(backups, "spalloc-2026-02-01.db") // from a month ago
	os.WriteFile(old, []byte("old"), 0o644)
	monthAgo := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(old, monthAgo, monthAgo)
	if out, err := runOn("2026-03-02"); err != nil {
		t.Fatalf("day 2: %v\n%s", err, out)
	}
	first, _ := os.ReadFile(filepath.Join(backups, "spalloc-2026-03-01.db"))
	if out, err := runOn("2026-03-01"); err == nil || !strings.Contains(out, "--force") {
		t.Errorf("a second run on the same day: %v, %q; want a failure that names --force", err, out)
	}
	if again, _ := os.ReadFile(filepath.Join(backups, "spalloc-2026-03-01.db")); string(again) != string(first) {
		t.Errorf("the second run changed the day's backup")
	}
	entries, _ := os.ReadDir(backups)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"spalloc-2026-03-01.db", "spalloc-2026-03-02.db"}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("backups %v, want %v (the month-old one removed)", names, want)
	}
	checkBackup(t, filepath.Join(backups, "spalloc-2026-03-02.db"), 1)
}

// TestREADMESimulateCommandWorks runs each of the README's simulate
// commands from a clone (globs expanded as a shell would): the traces,
// their machine files and the reference figures are in the repository.
func TestREADMESimulateCommandWorks(t *testing.T) {
	spallocd, _ := binaries(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`(?m)^    go run \./cmd/spallocd (simulate .*)$`).FindAllSubmatch(readme, -1)
	if len(lines) < 2 {
		t.Fatalf("the README has %d `go run ./cmd/spallocd simulate` commands, want one replay and one comparison of the policies", len(lines))
	}
	for _, line := range lines {
		args := []string{"simulate", "--progress", "none"}
		for _, a := range strings.Fields(string(line[1]))[1:] {
			a = strings.ReplaceAll(a, "/tmp/plot.svg", filepath.Join(t.TempDir(), "plot.svg"))
			files, _ := filepath.Glob(filepath.Join("../..", a))
			if !strings.ContainsAny(a, "*?[") || len(files) == 0 {
				args = append(args, a)
				continue
			}
			for _, f := range files {
				rel, _ := filepath.Rel("../..", f)
				args = append(args, rel)
			}
		}
		cmd := exec.Command(spallocd, args...)
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("spallocd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		want := []string{"rejected exactly the impossible jobs: yes", "this/original", "pool-FIFO bound"}
		if slices.Contains(args, "--compare-policies") {
			want = []string{"| small-48b-load1.2 | 1.2 | yes, yes |", "goals of the reserve policy"}
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("spallocd %s: the output lacks %q:\n%s", strings.Join(args, " "), w, out)
			}
		}
	}
}
