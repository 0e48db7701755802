package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Bounds checked before a file is parsed. The TOML parser's time and memory
// grow much faster than the nesting of inline tables and arrays (a 60 KB
// file nested 20,000 deep takes it minutes), so nesting is counted first;
// real configurations nest 3 deep and a 1200-board machine listed board by
// board is about 100 KB.
const (
	MaxFileBytes = 4 << 20
	MaxNesting   = 16
)

// Load reads and validates the configuration file at path. Unlike Parse it
// also requires a machine: a server's file without any is a mistake (a
// reload with it would remove every machine).
func Load(path string) (*Config, error) {
	data, err := readRegular(path, MaxFileBytes)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the file: " + err.Error()}
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	if len(cfg.Machines) == 0 {
		return nil, &Error{File: path, Msg: "no machine is configured: add a [[machine]] table (a server without machines can allocate nothing)"}
	}
	return cfg, nil
}

// Parse validates a configuration held in memory. path names it in errors
// and anchors relative paths (database, admin_token_file, spinner_csv); with
// path "" they are relative to the current folder. Files named by the
// configuration are read.
func Parse(data []byte, path string) (*Config, error) {
	if err := checkShape(data, path); err != nil {
		return nil, err
	}
	// Decoding into a generic tree first separates syntax errors from type
	// errors, and the tree locates unknown keys.
	var tree map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&tree); err != nil {
		return nil, syntaxError(path, data, err)
	}
	var raw rawFile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		return nil, decodeError(path, err)
	}
	if len(md.Keys()) == 0 {
		// An empty file is almost always a mistake (or an editor halfway
		// through saving); loading it would remove every machine.
		return nil, &Error{File: path, Msg: "the file defines nothing: expected [server], [bmp], [scheduler], [policy], [[admin_token]] or [[machine]] tables"}
	}
	p := &problems{file: path}
	reportUnknownKeys(p, data, tree, md.Undecoded())
	dir := configDir(path)
	cfg := &Config{
		Server:    resolveServer(p.section("server"), raw.Server, dir),
		BMP:       resolveBMP(p.section("bmp"), raw.BMP),
		Scheduler: resolveScheduler(p.section("scheduler"), raw.Scheduler),
		Policy:    resolvePolicy(p.section("policy"), raw.Policy),
		Path:      path,
	}
	cfg.AdminTokens = resolveAdminTokens(p, raw.AdminToken, cfg.Server, dir)
	cfg.Machines = resolveMachines(p, raw.Machine, dir)
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg.Warnings = p.warnings
	return cfg, nil
}

func configDir(path string) string {
	if path == "" {
		return ""
	}
	return filepath.Dir(path)
}

// resolvePath makes a relative path relative to the configuration's folder.
func resolvePath(dir, path string) string {
	if dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// describeFileError drops the path that os errors repeat (the caller already
// names the file).
func describeFileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// decodeLine matches the position prefix of the TOML library's type errors.
var decodeLine = regexp.MustCompile(`^toml: (?:line (\d+) )?(?:\(last key "([^"]*)"\): )?`)

// syntaxError turns a TOML syntax error into an *Error at the line of the
// mistake. The library's own line is one too far when the offending
// character is a line's newline, so the line is counted from the byte
// offset; and a missing comma between elements written one per line is
// only seen at the next element, so it is reported where the comma is
// missing.
func syntaxError(path string, data []byte, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: path, Msg: err.Error()}
	}
	e := &Error{File: path, Line: pe.Position.Line, Msg: pe.Message}
	at := pe.Position.Start
	if at < 0 || at > len(data) {
		return e
	}
	e.Line = 1 + bytes.Count(data[:at], []byte("\n"))
	if strings.HasPrefix(pe.Message, "expected a comma") && startsLine(data, at) {
		if prev := previousContentLine(data, at); prev > 0 {
			e.Line = prev
			e.Msg += fmt.Sprintf(" (is a comma missing at the end of line %d?)", prev)
		}
	}
	return e
}

// startsLine reports whether only blanks precede offset at on its line.
func startsLine(data []byte, at int) bool {
	start := bytes.LastIndexByte(data[:at], '\n') + 1
	return len(bytes.TrimSpace(data[start:at])) == 0
}

// previousContentLine is the number of the last line before offset at's
// line that holds more than blanks and a comment; 0 if none.
func previousContentLine(data []byte, at int) int {
	lines := bytes.Split(data[:bytes.LastIndexByte(data[:at], '\n')+1], []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		text := bytes.TrimSpace(lines[i])
		if len(text) > 0 && text[0] != '#' {
			return i + 1
		}
	}
	return 0
}

// decodeError turns a TOML type error into an *Error with the line and key
// the library reports.
func decodeError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: path, Line: pe.Position.Line, Field: pe.LastKey, Msg: pe.Message}
	}
	msg := err.Error()
	e := &Error{File: path, Msg: msg}
	if m := decodeLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Field = m[2]
		e.Msg = friendlyTypeError(msg[len(m[0]):])
	}
	return e
}

var (
	typeMismatch  = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	tableMismatch = regexp.MustCompile(`^type mismatch for \S+: expected table but found (.+)$`)
)

// friendlyTypeError rewords the TOML library's type mismatches in TOML terms
// (it names Go types).
func friendlyTypeError(msg string) string {
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("wrong type: want %s, got %s", tomlTypeName(m[2]), tomlTypeName(m[1]))
	}
	if m := tableMismatch.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("wrong type: want a table, got %s", tomlTypeName(m[1]))
	}
	return msg
}

func tomlTypeName(goName string) string {
	switch {
	case strings.HasPrefix(goName, "int"), goName == "integer":
		return "an integer"
	case strings.HasPrefix(goName, "float"):
		return "a number"
	case goName == "string":
		return "a string"
	case goName == "bool", goName == "boolean":
		return "true or false"
	case strings.HasPrefix(goName, "[]"), goName == "slice", goName == "array":
		return "an array"
	case strings.HasPrefix(goName, "map"), goName == "struct", goName == "table":
		return "a table"
	}
	return goName
}

// reportUnknownKeys turns keys the decoder did not use into errors, so that a
// typo is never silently ignored. Each names the line where the key is
// written and, when a known key is spelled alike, suggests it. Keys inside
// [[machine]] tables are located in the generic tree to name the machine
// and the array index.
func reportUnknownKeys(p *problems, data []byte, tree map[string]any, keys []toml.Key) {
	reported := map[string]bool{}
	lines := newKeyLines(data)
	for _, key := range keys {
		if len(key) > 1 && reported[key[:len(key)-1].String()] {
			reported[key.String()] = true // inside an unknown table: reported already
			continue
		}
		reported[key.String()] = true
		reportUnknownKey(p, lines, tree, key)
	}
}

func reportUnknownKey(p *problems, lines *keyLines, tree map[string]any, key toml.Key) {
	last := key[len(key)-1]
	msg := fmt.Sprintf("unknown key %q", last) + suggestKey(key)
	if key[0] != "machine" || len(key) < 2 {
		p.add(&Error{Line: lines.find(key, 0), Field: strings.Join(key[:len(key)-1], "."), Msg: msg})
		return
	}
	for i, m := range tables(tree["machine"]) {
		for _, at := range locateKey(m, key[1:], "") {
			name, _ := m["name"].(string)
			p.add(&Error{Line: lines.find(key, i+1), Machine: name, MachineIndex: i + 1, Field: parentField(at), Msg: msg})
		}
	}
}

// tables returns the tables of an array of tables, written either as
// [[machine]] sections or as an inline array.
func tables(v any) []map[string]any {
	switch v := v.(type) {
	case []map[string]any:
		return v
	case []any:
		list := make([]map[string]any, len(v))
		for i, e := range v {
			list[i], _ = e.(map[string]any)
		}
		return list
	}
	return nil
}

// locateKey returns the field paths ("boards[3].ip") under which path occurs
// in v, descending into tables and arrays.
func locateKey(v any, path []string, at string) []string {
	if len(path) == 0 {
		return []string{at}
	}
	switch v := v.(type) {
	case map[string]any:
		child, ok := v[path[0]]
		if !ok {
			return nil
		}
		return locateKey(child, path[1:], joinField(at, path[0]))
	case []map[string]any:
		var found []string
		for i, e := range v {
			found = append(found, locateKey(e, path, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return found
	case []any:
		var found []string
		for i, e := range v {
			found = append(found, locateKey(e, path, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return found
	}
	return nil
}

func joinField(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

// parentField drops the last ".key" of a field path.
func parentField(at string) string {
	if i := strings.LastIndex(at, "."); i >= 0 {
		return at[:i]
	}
	return ""
}
