// Command spallocd is the SpiNNaker machine allocation server: it wires the
// configuration, the service (database), the BMP workers, the v1 protocol
// server and the HTTP admin API together, and handles signals. No domain
// logic lives here.
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

	"github.com/spalloc/spallocd/internal/buildinfo"
	"github.com/spalloc/spallocd/internal/cpuprofile"
	"github.com/spalloc/spallocd/internal/gctune"
)

func main() {
	gctune.Apply()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "simulate":
			return simulate(args[1:], stdout, stderr)
		case "backup":
			return backup(args[1:], stdout, stderr)
		}
	}
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "spallocd: %v\n", err)
		return 2
	}
	if opts.showVersion {
		fmt.Fprintln(stdout, buildinfo.String("spallocd"))
		return 0
	}
	if opts.checkConfig != "" {
		return checkConfig(opts.checkConfig, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(opts, stderr)
	if opts.cpuProfile != "" {
		stopProfile, err := cpuprofile.Start(opts.cpuProfile)
		if err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		defer stopProfile()
	}
	d, err := startDaemon(ctx, opts, log, stdout)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := d.wait(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}
