package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpOfEveryProgram runs each program's -h as a user would: it exits
// 0, and its first line says in a sentence what the program is for, before
// the usage line and the flags.
func TestHelpOfEveryProgram(t *testing.T) {
	spallocd, fakebmp := binaries(t)
	dir := t.TempDir()
	for _, pkg := range []string{"../spalloc-bench", "../spalloc-replay"} {
		if out, err := exec.Command("go", "build", "-o", dir, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	bench, replay := filepath.Join(dir, "spalloc-bench"), filepath.Join(dir, "spalloc-replay")
	tests := []struct {
		name    string
		command []string
		about   string // a word the first line must hold
	}{
		{"spallocd", []string{spallocd, "-h"}, "SpiNNaker machines"},
		{"spallocd --help", []string{spallocd, "--help"}, "SpiNNaker machines"},
		{"spallocd simulate", []string{spallocd, "simulate", "-h"}, "job traces"},
		{"spallocd backup", []string{spallocd, "backup", "-h"}, "database"},
		{"spalloc-replay", []string{replay, "-h"}, "job traces"},
		{"fakebmp", []string{fakebmp, "-h"}, "BMP"},
		{"spalloc-bench", []string{bench, "-h"}, "spalloc v1 server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(tt.command[0], tt.command[1:]...).CombinedOutput()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("exit status %d, want 0; output:\n%s", exit.ExitCode(), out)
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(out), "\n")
			first := lines[0]
			switch {
			case !strings.Contains(first, tt.about) || !strings.HasSuffix(first, ".") || len(first) > 110:
				t.Errorf("first line %q: want one sentence (at most 110 characters) about %q", first, tt.about)
			case len(lines) < 3 || lines[1] != "" || !strings.HasPrefix(lines[2], "usage: "):
				t.Errorf("the first line is not followed by a blank line and the usage:\n%s", out)
			case !strings.Contains(string(out), "\n  -"):
				t.Errorf("no flags listed:\n%s", out)
			}
		})
	}
}
