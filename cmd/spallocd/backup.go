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

	"github.com/spalloc/spallocd/db"
)

// backup is `spallocd backup`: an online, consistent copy of the database
// (see db.Backup), safe to run while the server writes it.
func backup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spallocd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("db", "", "the server's database `file` (required)")
	dst := fs.String("to", "", "the backup `file` to write (required); it must not exist unless --force is given")
	force := fs.Bool("force", false, "replace the backup file if it exists")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Copies a spallocd database while the server runs: a consistent, checked snapshot.\n\n"+
			"usage: spallocd backup --db FILE --to FILE [--force]\n\n"+
			"The copy is written under a temporary name beside FILE and renamed once complete;\n"+
			"an existing FILE is never replaced unless --force is given.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "spallocd backup: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *src == "" || *dst == "":
		fmt.Fprintln(stderr, "spallocd backup: --db and --to are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	size, err := db.Backup(ctx, *src, *dst, db.BackupOptions{Replace: *force})
	if errors.Is(err, db.ErrBackupExists) {
		fmt.Fprintf(stderr, "spallocd backup: %v; choose another name or give --force\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "spallocd %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes)\n", *src, *dst, size)
	return 0
}
