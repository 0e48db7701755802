// Command spalloc-replay runs the trace-replay scheduling benchmark on its
// own; `spallocd simulate` is the same program (package replay).
package main

import (
	"os"

	"github.com/spalloc/spallocd/replay"
)

func main() {
	os.Exit(replay.Main(os.Args[1:], os.Stdout, os.Stderr))
}
