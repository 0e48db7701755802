// Command fakebmp serves one fake SpiNN-5 frame BMP over UDP until SIGINT
// or SIGTERM, for demos and manual tests of spallocd against "hardware".
//
//	fakebmp --listen 127.0.0.1:17893 [--power-delay 2s] [--link-delay 20ms] [--boards 0-23] [--version 2.1.2]
//
// It prints the address it listens on when it starts. It only wires flags
// to package bmp/fakebmp.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spalloc/spallocd/bmp/fakebmp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fakebmp:", err)
		os.Exit(2)
	}
}

// run parses args and serves until ctx ends, printing the address first.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakebmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `fakebmp stands in for the BMP of one SpiNN-5 frame, to try spallocd without hardware.

usage: fakebmp [flags]

It answers the BMP commands spallocd sends over UDP (version, power, FPGA
registers), prints the address it listens on, and serves until SIGINT or
SIGTERM. Give that address, port included, as the BMP of a frame in the
spallocd configuration: bmps = [{ cf = [0, 0], ip = "127.0.0.1:PORT" }].

flags:
`)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:17893", "UDP address to serve on (host:port; port 0 picks a free one)")
	powerDelay := fs.Duration("power-delay", 0, "wait before answering a power-on")
	linkDelay := fs.Duration("link-delay", 0, "wait before answering an FPGA register write")
	boards := fs.String("boards", "0-23", "boards present in the frame, e.g. 0-23 or 0,1,2 (board 0 always is)")
	version := fs.String("version", fakebmp.DefaultVersion, "firmware version reported by sver (below 2.0: no FPGA checks or link writes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ids, err := fakebmp.ParseBoards(*boards)
	if err != nil {
		return fmt.Errorf("--boards: %w", err)
	}
	srv, err := fakebmp.New(fakebmp.Options{
		Listen: *listen, Boards: ids, PowerDelay: *powerDelay, LinkDelay: *linkDelay, Version: *version,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "fakebmp listening on %s (boards %s, firmware %s)\n", srv.Addr(), *boards, *version)
	<-ctx.Done()
	return nil
}
