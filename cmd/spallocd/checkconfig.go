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
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
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
	fmt.Fprintf(w, "%s: valid; %s, %s, %s\n", source, count(len(cfg.Machines), "machine"),
		count(boards, "working board"), count(bmps, "BMP"))
	for i, m := range cfg.Machines {
		fake := ""
		if m.FakeBMP != nil {
			fake = ", fake BMPs"
		}
		fmt.Fprintf(w, "  %d. %-20s %dx%d %s, %s, %s, %s, %s, tags %v%s\n",
			i+1, m.Name, m.Width, m.Height, plural(m.Width*m.Height, "triad"), count(len(m.Boards), "working board"),
			count(len(m.ListedDeadBoards()), "dead board"), count(len(m.DeadLinks), "dead link"),
			count(len(m.BMPs), "BMP"), m.Tags, fake)
	}
}

// count writes n and a noun in the right number: "1 machine", "2 machines".
func count(n int, noun string) string { return fmt.Sprintf("%d %s", n, plural(n, noun)) }

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
