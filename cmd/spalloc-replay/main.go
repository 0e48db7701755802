// Command spalloc-replay runs the trace-replay scheduling benchmark on its
// own; `spallocd simulate` is the same program (package replay).
package main

import (
	"github.com/spalloc/spallocd/internal/gctune"
	"os"

	"github.com/spalloc/spallocd/replay"
)

func main() {
	gctune.Apply() // as spallocd simulate
	os.Exit(replay.Main(os.Args[1:], os.Stdout, os.Stderr))
}
