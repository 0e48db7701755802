package main

import (
	"io"

	"github.com/spalloc/spallocd/replay"
)

// simulate is `spallocd simulate`: the trace replay of the scheduling
// benchmark (package replay).
func simulate(args []string, stdout, stderr io.Writer) int {
	return replay.Main(args, stdout, stderr)
}
