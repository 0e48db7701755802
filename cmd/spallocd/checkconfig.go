package main

import (
	"fmt"
	"io"

	"github.com/spalloc/spallocd/service/config"
)

// checkConfig validates a configuration file and prints what it describes.
func checkConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	printSummary(cfg, stdout)
	return 0
}

func printSummary(cfg *config.Config, w io.Writer) {
	boards, bmps := 0, 0
	for _, m := range cfg.Machines {
		boards += len(m.Boards)
		bmps += len(m.BMPs)
	}
	source := cfg.Path
	if source == "" {
		source = "built-in demo"
	}
	fmt.Fprintf(w, "%s: valid; %d machines, %d working boards, %d BMPs\n", source, len(cfg.Machines), boards, bmps)
	for i, m := range cfg.Machines {
		fake := ""
		if m.FakeBMP != nil {
			fake = ", fake BMPs"
		}
		fmt.Fprintf(w, "  %d. %-20s %dx%d triads, %d working boards, %d dead boards, %d dead links, %d BMPs, tags %v%s\n",
			i+1, m.Name, m.Width, m.Height, len(m.Boards), len(m.DeadBoards), len(m.DeadLinks), len(m.BMPs), m.Tags, fake)
	}
}
