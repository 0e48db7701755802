package replay

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// TraceHeader is the header line of format spalloc-trace/1, exactly.
const TraceHeader = "job_id,arrival_s,form,v1,v2,v3,min_ratio,max_dead_boards,max_dead_links,require_torus,machine,tags,duration_s"

const traceColumns = 13

// Form is the positional form of a trace row's create_job call.
type Form int

const (
	FormNone   Form = iota // create_job(): one board
	FormBoards             // create_job(N): at least N boards
	FormTriads             // create_job(W, H): a W x H block of triads
	FormBoard              // create_job(X, Y, Z): that board
)

var formNames = map[string]Form{"none": FormNone, "boards": FormBoards, "triads": FormTriads, "board": FormBoard}

// formArity is how many of v1, v2, v3 each form uses.
var formArity = map[Form]int{FormNone: 0, FormBoards: 1, FormTriads: 2, FormBoard: 3}

func (f Form) String() string {
	names := [...]string{"none", "boards", "triads", "board"}
	if f < 0 || int(f) >= len(names) {
		return fmt.Sprintf("Form(%d)", int(f))
	}
	return names[f]
}

// Job is one row of a trace. Times are integer milliseconds; optional
// keywords are nil (or empty) when the row leaves them empty ("not sent").
type Job struct {
	ID            int64
	Line          int   // line of the row in its file, for messages
	Arrival       int64 // ms
	Form          Form
	V             [3]int // positional values; unused ones are 0
	MinRatio      *float64
	MaxDeadBoards *int
	MaxDeadLinks  *int
	RequireTorus  bool
	Machine       string   // "" = not sent
	Tags          []string // nil = not sent
	Duration      int64    // ms, > 0
}

// Requested is R before capping: what the job asked for, in boards.
func (j *Job) Requested() int {
	switch j.Form {
	case FormBoards:
		return j.V[0]
	case FormTriads:
		return 3 * j.V[0] * j.V[1]
	default:
		return 1
	}
}

// Trace is a parsed trace file.
type Trace struct {
	Path string
	Jobs []Job // in file order (non-decreasing arrival)
}

// ReadTrace reads and checks a trace file.
func ReadTrace(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading trace: %w", err)
	}
	return ParseTrace(bytes.NewReader(data), path)
}

// ParseTrace reads a trace in format spalloc-trace/1; name is used in error
// messages ("name:line: ...").
func ParseTrace(r io.Reader, name string) (*Trace, error) {
	p := traceParser{name: name, ids: map[int64]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, p.line+1, err)
	}
	if !p.sawHeader {
		return nil, fmt.Errorf("%s: no header line (want %q)", name, TraceHeader)
	}
	return &Trace{Path: name, Jobs: p.jobs}, nil
}

type traceParser struct {
	name      string
	line      int
	sawHeader bool
	jobs      []Job
	ids       map[int64]int // job id -> line
}

func (p *traceParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...))
}

func (p *traceParser) parseLine(text string) error {
	if strings.HasPrefix(text, "#") || strings.TrimSpace(text) == "" {
		return nil
	}
	if !p.sawHeader {
		if text != TraceHeader {
			return p.errorf("the first line that is not a comment must be the header %q, got %q", TraceHeader, text)
		}
		p.sawHeader = true
		return nil
	}
	job, err := p.parseRow(text)
	if err != nil {
		return p.errorf("%v", err)
	}
	if first, dup := p.ids[job.ID]; dup {
		return p.errorf("job_id %d is already used on line %d", job.ID, first)
	}
	if n := len(p.jobs); n > 0 {
		prev := &p.jobs[n-1]
		if job.ID < prev.ID {
			return p.errorf("job_id %d is below the previous row's %d (ids must ascend in file order)", job.ID, prev.ID)
		}
		if job.Arrival < prev.Arrival {
			return p.errorf("arrival_s %s is before the previous row's %s (arrivals must not decrease)",
				formatMS(job.Arrival), formatMS(prev.Arrival))
		}
	}
	p.ids[job.ID] = p.line
	p.jobs = append(p.jobs, job)
	return nil
}

func (p *traceParser) parseRow(text string) (Job, error) {
	f := strings.Split(text, ",")
	if len(f) != traceColumns {
		return Job{}, fmt.Errorf("want %d comma-separated columns, got %d", traceColumns, len(f))
	}
	j := Job{Line: p.line}
	var err error
	if j.ID, err = parsePositiveInt(f[0]); err != nil {
		return j, fmt.Errorf("job_id: %v", err)
	}
	if j.Arrival, err = parseMS(f[1]); err != nil {
		return j, fmt.Errorf("arrival_s: %v", err)
	}
	if err := parseForm(&j, f[2:6]); err != nil {
		return j, err
	}
	if err := parseKeywords(&j, f[6:12]); err != nil {
		return j, err
	}
	if j.Duration, err = parseMS(f[12]); err != nil {
		return j, fmt.Errorf("duration_s: %v", err)
	}
	if j.Duration <= 0 {
		return j, fmt.Errorf("duration_s must be above 0, got %q", f[12])
	}
	return j, nil
}

// parseForm reads form, v1, v2, v3.
func parseForm(j *Job, f []string) error {
	form, ok := formNames[f[0]]
	if !ok {
		return fmt.Errorf("form %q is not one of none, boards, triads, board", f[0])
	}
	j.Form = form
	arity := formArity[form]
	for i := 0; i < 3; i++ {
		col := fmt.Sprintf("v%d", i+1)
		if i >= arity {
			if f[i+1] != "" {
				return fmt.Errorf("%s must be empty for form %s, got %q", col, form, f[i+1])
			}
			continue
		}
		v, err := strconv.Atoi(f[i+1])
		if err != nil {
			return fmt.Errorf("%s: want an integer for form %s, got %q", col, form, f[i+1])
		}
		min := 1
		if form == FormBoard {
			min = 0
		}
		if v < min {
			return fmt.Errorf("%s must be at least %d for form %s, got %d", col, min, form, v)
		}
		j.V[i] = v
	}
	return nil
}

// parseKeywords reads min_ratio .. tags.
func parseKeywords(j *Job, f []string) error {
	if f[0] != "" {
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("min_ratio: want a number, got %q", f[0])
		}
		j.MinRatio = &v
	}
	var err error
	if j.MaxDeadBoards, err = parseOptionalCount(f[1]); err != nil {
		return fmt.Errorf("max_dead_boards: %v", err)
	}
	if j.MaxDeadLinks, err = parseOptionalCount(f[2]); err != nil {
		return fmt.Errorf("max_dead_links: %v", err)
	}
	switch f[3] {
	case "", "0":
	case "1":
		j.RequireTorus = true
	default:
		return fmt.Errorf("require_torus: want 0, 1 or empty, got %q", f[3])
	}
	j.Machine = f[4]
	if f[5] != "" {
		j.Tags = strings.Split(f[5], ";")
		for _, t := range j.Tags {
			if t == "" {
				return fmt.Errorf("tags: empty tag in %q", f[5])
			}
		}
	}
	if j.Machine != "" && j.Tags != nil {
		return fmt.Errorf("machine %q and tags %q are both given; a row may have only one", j.Machine, f[5])
	}
	return nil
}

func parsePositiveInt(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %q", s)
	}
	if v < 1 {
		return 0, fmt.Errorf("must be at least 1, got %d", v)
	}
	return v, nil
}

func parseOptionalCount(s string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("want an integer or empty, got %q", s)
	}
	if v < 0 {
		return nil, fmt.Errorf("must not be negative, got %d", v)
	}
	return &v, nil
}

// maxSeconds keeps every time, and sums of a few of them, far from int64
// overflow in milliseconds.
const maxSeconds = 1e12

// parseMS reads a non-negative decimal number of seconds with at most three
// decimals as exact integer milliseconds ("12.5" -> 12500).
func parseMS(s string) (int64, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("want decimal seconds such as 12.5, got %q", s)
	}
	if len(frac) > 3 {
		return 0, fmt.Errorf("at most 3 decimals allowed, got %q", s)
	}
	if len(whole) > 12 {
		return 0, fmt.Errorf("%q is too large (at most %g seconds)", s, maxSeconds)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	ms := w * 1000
	if frac != "" {
		f, _ := strconv.ParseInt((frac + "00")[:3], 10, 64)
		ms += f
	}
	return ms, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// formatMS writes milliseconds as decimal seconds ("12.500").
func formatMS(ms int64) string {
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}
