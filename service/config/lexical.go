package config

// What is read from a file's text without parsing it: its size and nesting
// (bounded before the TOML parser sees it), and the lines where keys are
// written (the parser keeps them to itself).

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// checkShape refuses a file larger than MaxFileBytes or whose inline tables
// and arrays nest deeper than MaxNesting, before anything parses it.
func checkShape(data []byte, path string) error {
	if len(data) > MaxFileBytes {
		return &Error{File: path, Msg: fmt.Sprintf("the file is %d bytes, larger than the %d allowed", len(data), MaxFileBytes)}
	}
	if line := tooDeep(data, MaxNesting); line > 0 {
		return &Error{File: path, Line: line,
			Msg: fmt.Sprintf("arrays and inline tables nested more than %d deep", MaxNesting)}
	}
	return nil
}

// tooDeep returns the line where brackets and braces outside strings and
// comments first nest deeper than limit, or 0. It only counts; the parser
// judges whether they are well formed.
func tooDeep(data []byte, limit int) int {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			end := stringEnd(data, i)
			line += bytes.Count(data[i:end], []byte("\n"))
			i = end - 1
		case '[', '{':
			if depth++; depth > limit {
				return line
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0
}

// stringEnd returns the offset just past the TOML string that starts at i
// (basic or literal, single- or multi-line), or len(data) if it never ends.
func stringEnd(data []byte, i int) int {
	q := data[i]
	delim := []byte{q}
	if bytes.HasPrefix(data[i:], []byte{q, q, q}) {
		delim = []byte{q, q, q}
	}
	for j := i + len(delim); j < len(data); j++ {
		switch {
		case q == '"' && data[j] == '\\':
			j++ // an escaped character
		case len(delim) == 1 && data[j] == '\n':
			return j // unterminated: the parser will say so
		case bytes.HasPrefix(data[j:], delim):
			return j + len(delim)
		}
	}
	return len(data)
}

// keyLines finds the line where a key is written, for messages about keys
// the parser accepted but the configuration does not know.
type keyLines struct {
	lines   []string
	headers []header
}

// header is a [table] or [[array]] line.
type header struct {
	line int // 0-based
	name string
}

var headerLine = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.\- "']+?)\s*\]\]?\s*(#.*)?$`)

func newKeyLines(data []byte) *keyLines {
	k := &keyLines{lines: strings.Split(string(data), "\n")}
	for i, l := range k.lines {
		if m := headerLine.FindStringSubmatch(l); m != nil {
			k.headers = append(k.headers, header{line: i, name: strings.ReplaceAll(m[1], " ", "")})
		}
	}
	return k
}

// find returns the 1-based line where key's last part is assigned within
// its table — for a key of a machine, within the index-th [[machine]] — or
// 0 when it is not written as "key =" (e.g. a dotted key).
func (k *keyLines) find(key toml.Key, machineIndex int) int {
	for _, h := range k.headers {
		if h.name == key.String() {
			return h.line + 1 // an unknown [table] of its own
		}
	}
	from, to := k.region(key[0], len(key) == 1, machineIndex)
	if from == to {
		from, to = 0, len(k.lines) // e.g. machines as an inline array: the first mention
	}
	assign := regexp.MustCompile(`(^|[\s{,.])"?` + regexp.QuoteMeta(key[len(key)-1]) + `"?\s*=`)
	for i := from; i < to; i++ {
		if assign.MatchString(k.lines[i]) {
			return i + 1
		}
	}
	return 0
}

// region returns the lines of the table a key belongs to: before the first
// header for a top-level key; else after the header of table (the
// machineIndex-th one of an array) up to the next header of another table.
func (k *keyLines) region(table string, topLevel bool, machineIndex int) (from, to int) {
	if topLevel {
		if len(k.headers) == 0 {
			return 0, len(k.lines)
		}
		return 0, k.headers[0].line
	}
	seen := 0
	for i, h := range k.headers {
		if h.name != table {
			continue
		}
		if seen++; machineIndex > 0 && seen != machineIndex {
			continue
		}
		to := len(k.lines)
		for _, next := range k.headers[i+1:] {
			if !strings.HasPrefix(next.name, table+".") {
				to = next.line
				break
			}
		}
		return h.line + 1, to
	}
	return 0, 0
}

// suggestKey returns "; did you mean ...?" naming the known key spelled most
// like key's last part, or listing the keys its table knows when none is
// close.
func suggestKey(key toml.Key) string {
	known := knownKeys(key[:len(key)-1])
	if len(known) == 0 {
		return ""
	}
	name := key[len(key)-1]
	best, bestDist := "", len(name)+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist <= max(1, min(3, len(name)/3)) {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known keys here: " + strings.Join(known, ", ")
}

// knownKeys lists the keys of the table at path (e.g. ["machine",
// "single_board"]), from the toml tags of the raw types; nil if the path
// names no table.
func knownKeys(path []string) []string {
	t := reflect.TypeOf(rawFile{})
	for _, part := range path {
		f, ok := fieldByTag(t, part)
		if !ok {
			return nil
		}
		t = f.Type
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
	}
	var keys []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			keys = append(keys, tag)
		}
	}
	slices.Sort(keys)
	return keys
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each count one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
