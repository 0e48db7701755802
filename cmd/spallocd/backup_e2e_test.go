package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service"
)

// TestBackupWhileTheServerWrites runs `spallocd backup` against the
// database of a running spallocd while clients create and destroy jobs:
// every copy opens as a consistent spallocd database holding at least the
// jobs created before it began; an existing backup file is refused and
// kept unless --force is given.
func TestBackupWhileTheServerWrites(t *testing.T) {
	spallocd, _ := binaries(t)
	demo := startDemo(t, spallocd)
	dbPath := filepath.Join(demo.state, "spallocd", "demo.db")
	c := dial(t, demo.proto)

	var (
		mu      sync.Mutex
		created int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // a busy client: each job is created, then destroyed
		for i := 0; i < 2000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			id, err := c.CreateJob(ctx, nil, map[string]any{"owner": "busy", "keepalive": nil})
			if err == nil && i%2 == 0 {
				err = c.DestroyJob(ctx, id, nil)
			}
			cancel()
			if err != nil {
				return // the test sees too few jobs
			}
			mu.Lock()
			created = id
			mu.Unlock()
		}
	})
	defer func() { close(stop); wg.Wait() }()

	backupDir := t.TempDir()
	run := func(args ...string) (string, int) {
		out, err := exec.Command(spallocd, append([]string{"backup", "--db", dbPath}, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	for i := range 3 {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		before := created
		mu.Unlock()
		copyPath := filepath.Join(backupDir, fmt.Sprintf("spalloc-%d.db", i))
		if out, code := run("--to", copyPath); code != 0 {
			t.Fatalf("backup %d: exit %d: %s", i, code, out)
		}
		checkBackup(t, copyPath, before)
	}
	mu.Lock()
	jobs := created
	mu.Unlock()
	if jobs < 3 {
		t.Fatalf("only %d jobs were created during the backups: the server was not busy", jobs)
	}

	existing := filepath.Join(backupDir, "spalloc-0.db")
	old, _ := os.ReadFile(existing)
	out, code := run("--to", existing)
	if code != 1 || !strings.Contains(out, existing) || !strings.Contains(out, "--force") {
		t.Errorf("backup onto an existing file: exit %d, %q; want exit 1 naming the file and --force", code, out)
	}
	if now, _ := os.ReadFile(existing); string(now) != string(old) {
		t.Errorf("the refused backup changed the existing file")
	}
	if out, code := run("--to", existing, "--force"); code != 0 {
		t.Fatalf("backup --force: exit %d: %s", code, out)
	}
	if out, code := run(); code != 2 || !strings.Contains(out, "--to") {
		t.Errorf("backup without --to: exit %d, %q; want 2 and a word about --to", code, out)
	}
}

// checkBackup opens a copy as the server would and checks it.
func checkBackup(t *testing.T, path string, minJob int64) {
	t.Helper()
	ctx := context.Background()
	svc, err := service.Open(ctx, service.Options{DBPath: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the backup %s does not open: %v", path, err)
	}
	defer svc.Close()
	problems, err := svc.CheckConsistency(ctx)
	if err != nil || len(problems) > 0 {
		t.Errorf("the backup %s is not consistent: %v %v", path, problems, err)
	}
	if minJob > 0 {
		if st, err := svc.JobState(ctx, minJob, ""); err != nil || st.State == service.StateUnknown {
			t.Errorf("the backup %s lacks job %d, created before the backup began (%v)", path, minJob, err)
		}
	}
}
