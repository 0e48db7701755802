package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// options are the command-line flags; they override the [server] values of
// the configuration file.
type options struct {
	configPath  string
	dbPath      string
	coldStart   bool
	listen      string
	httpAddr    string
	logLevel    slog.Level
	logFormat   string
	showVersion bool
	checkConfig string
	cpuProfile  string
	given       map[string]bool // flags given on the command line, by name
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("spallocd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "spallocd shares SpiNNaker machines among their users (the spalloc v1 allocation server).\n\n")
		fmt.Fprintf(stderr, "usage: spallocd [flags]            run the server (built-in demo without --config)\n")
		fmt.Fprintf(stderr, "       spallocd simulate [flags]   replay a job trace (see spallocd simulate -h)\n")
		fmt.Fprintf(stderr, "       spallocd backup --db FILE --to FILE [--force]   copy the database while the server runs\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.configPath, "config", "", "configuration `file` (TOML); none = built-in demo with fake BMPs")
	fs.StringVar(&o.dbPath, "db", "", "SQLite database `path` (overrides [server] database)")
	fs.BoolVar(&o.coldStart, "cold-start", false, "forget every job and machine in the database")
	fs.StringVar(&o.listen, "listen", "", "v1 protocol `address` (overrides [server] listen)")
	fs.StringVar(&o.httpAddr, "http", "", "admin API and dashboard `address` (overrides [server] http; \"\" = off)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&o.checkConfig, "check-config", "", "validate configuration `file`, print a summary, exit 0 (valid) or 1")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE` (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	o.logFormat = strings.ToLower(o.logFormat)
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	return o, nil
}

func newLogger(o *options, w io.Writer) *slog.Logger {
	h := &slog.HandlerOptions{Level: o.logLevel}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, h))
	}
	return slog.New(slog.NewTextHandler(w, h))
}
