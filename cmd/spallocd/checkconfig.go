package main

import (
	"fmt"
	"io"
	"strings"

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
	// The server refuses to start without its token files: so does the check.
	tokens, err := cfg.ReadAdminTokens()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	printSummary(cfg, stdout)
	printRules(cfg, tokens, stdout)
	return 0
}

// printRules prints the settings that decide who gets what and who may
// act: the scheduling policy, the [policy] limits that are set, and the
// admin tokens' names (never the tokens).
func printRules(cfg *config.Config, tokens []config.NamedToken, w io.Writer) {
	fmt.Fprintf(w, "scheduler: policy %s\n", cfg.Scheduler.Policy)
	p := cfg.Policy
	var limits []string
	for _, l := range []struct {
		key string
		set bool
		val any
	}{
		{"max_keepalive", p.MaxKeepalive > 0, p.MaxKeepalive},
		{"max_job_duration", p.MaxJobDuration > 0, p.MaxJobDuration},
		{"max_live_jobs_per_owner", p.MaxLiveJobsPerOwner > 0, p.MaxLiveJobsPerOwner},
		{"max_boards_per_owner", p.MaxBoardsPerOwner > 0, p.MaxBoardsPerOwner},
		{"max_queued_jobs_per_owner", p.MaxQueuedJobsPerOwner > 0, p.MaxQueuedJobsPerOwner},
	} {
		if l.set {
			limits = append(limits, fmt.Sprintf("%s %v", l.key, l.val))
		}
	}
	if p.SickBoardReports > 0 {
		job := "its job keeps it"
		if p.SickBoardDestroysJob {
			job = "its job is destroyed"
		}
		limits = append(limits, fmt.Sprintf("a board out of service after %s within %v (%s)",
			count(p.SickBoardReports, "problem report"), p.SickBoardWindow, job))
	}
	if len(limits) == 0 {
		limits = []string{"no limits"}
	}
	fmt.Fprintf(w, "policy: %s\n", strings.Join(limits, ", "))
	if len(tokens) == 0 {
		fmt.Fprintln(w, "admin tokens: none (the HTTP API changes nothing)")
		return
	}
	names := make([]string, len(tokens))
	for i, t := range tokens {
		names[i] = t.Name
	}
	fmt.Fprintf(w, "admin tokens: %s\n", strings.Join(names, ", "))
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
