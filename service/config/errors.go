package config

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem found in a configuration. Load and Parse report every
// problem of a file at once, as errors joined with errors.Join; each one
// names the file, and where they apply the line, machine and field.
type Error struct {
	File         string // as given to Load or Parse
	Line         int    // 1-based; 0 when the TOML library gives none
	Machine      string // the machine's name, "" if unnamed or not about a machine
	MachineIndex int    // 1-based position of the machine in the file; 0 if not about a machine
	Field        string // e.g. "dead_boards[2]" or "server.listen"
	Msg          string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(displayFile(e.File))
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	switch {
	case e.Machine != "":
		fmt.Fprintf(&b, "machine %s: ", shorten(e.Machine))
	case e.MachineIndex > 0:
		fmt.Fprintf(&b, "machine #%d: ", e.MachineIndex)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func displayFile(path string) string {
	if path == "" {
		return "configuration"
	}
	return path
}

// problems collects the errors and warnings of one file.
type problems struct {
	file     string
	errs     []error
	warnings []string
}

func (p *problems) add(e *Error) {
	e.File = p.file
	p.errs = append(p.errs, e)
}

// err joins everything collected, or returns nil.
func (p *problems) err() error { return errors.Join(p.errs...) }

// reporter adds errors about one part of the file (a section or a machine).
type reporter struct {
	p       *problems
	machine string
	index   int    // 1-based machine index; 0 outside machines
	prefix  string // field prefix, e.g. "server."
}

func (p *problems) section(name string) reporter {
	return reporter{p: p, prefix: name + "."}
}

func (p *problems) forMachine(index int, name string) reporter {
	return reporter{p: p, machine: name, index: index}
}

func (r reporter) addf(field, format string, args ...any) {
	r.p.add(&Error{
		Machine:      r.machine,
		MachineIndex: r.index,
		Field:        strings.TrimSuffix(r.prefix+field, "."),
		Msg:          fmt.Sprintf(format, args...),
	})
}

// warnf notes something that works but is probably not meant, e.g. a
// secret readable by everyone.
func (r reporter) warnf(field, format string, args ...any) {
	e := &Error{File: r.p.file, Machine: r.machine, MachineIndex: r.index,
		Field: strings.TrimSuffix(r.prefix+field, "."), Msg: fmt.Sprintf(format, args...)}
	r.p.warnings = append(r.p.warnings, e.Error())
}

// key is the full name of a setting of this part, as the range tables
// (limits.go) know it: "server.max_line_bytes", "machine.fake_bmp.link_delay".
func (r reporter) key(field string) string {
	if r.index > 0 {
		return "machine." + field
	}
	return r.prefix + field
}

// count reports how many problems were collected so far (to tell whether a
// step added any).
func (r reporter) count() int { return len(r.p.errs) }
