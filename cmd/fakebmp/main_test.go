package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/service/config"
)

// The command serves a frame a real client can power, and stops on cancel.
func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--boards", "0-2", "--version", "1.3.0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(line)
	if len(fields) < 4 || fields[1] != "listening" {
		t.Fatalf("first line %q", line)
	}
	c, err := bmp.Dial(ctx, fields[3], bmp.OptionsFrom(config.Default().BMP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Version(ctx, 2)
	if err != nil || v.Version() != "1.3.0" {
		t.Fatalf("version %v, %v", v, err)
	}
	if _, err := c.Version(ctx, 3); err == nil || !strings.Contains(err.Error(), "RC_ROUTE") {
		t.Fatalf("board 3 is not in the frame: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--boards", "0-40"},
		{"--version", "x"},
		{"--power-delay", "soon"},
		{"--listen", "127.0.0.1:99999"},
		{"extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
