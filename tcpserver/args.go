package tcpserver

// Binding of positional and keyword arguments to a command's parameters,
// the way the original's Python methods received them, with
// docs/protocol.md's rules on top: a trailing positional null is "not given", a keyword null is
// "not given", numbers may be integers or integral floats.

import (
	"errors"
	"fmt"
	"strings"
)

// maxParams is the most parameters any fixed-signature command has.
const maxParams = 5

// param is one named parameter; alias is an extra accepted keyword name
// (get_board_at_position's original names were x, y, z).
type param struct {
	name  string
	alias string
}

// bound holds a call's arguments by parameter position; nil = not given.
type bound [maxParams][]byte

// positional returns the positional arguments without trailing nulls.
func positional(req *request) [][]byte {
	args := req.args
	for len(args) > 0 && isNull(args[len(args)-1]) {
		args = args[:len(args)-1]
	}
	return args
}

// bind maps a request's arguments onto params. Errors name the command and
// what was wrong, like Python's TypeError for a bad call.
func bind(cmd string, params []param, req *request) (bound, error) {
	var vals bound
	args := positional(req)
	if len(args) > len(params) {
		return vals, tooMany(cmd, params, len(args))
	}
	copy(vals[:], args)
	var unknown []string
	for _, kw := range req.kwargs {
		idx := -1
		for i, p := range params {
			if kw.name == p.name || (p.alias != "" && kw.name == p.alias) {
				idx = i
				break
			}
		}
		switch {
		case idx < 0:
			unknown = append(unknown, kw.name)
		case isNull(kw.value):
			// not given
		case idx < len(args) || vals[idx] != nil:
			return vals, fmt.Errorf("%s: got multiple values for argument '%s'", cmd, params[idx].name)
		default:
			vals[idx] = kw.value
		}
	}
	if len(unknown) > 0 {
		return vals, unexpectedKeywords(cmd, unknown)
	}
	return vals, nil
}

func tooMany(cmd string, params []param, given int) error {
	if len(params) == 0 {
		return fmt.Errorf("%s takes no arguments (%d given)", cmd, given)
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.name
	}
	return fmt.Errorf("%s takes at most %d positional %s (%s) but %d %s given",
		cmd, len(params), plural(len(params), "argument", "arguments"), strings.Join(names, ", "),
		given, plural(given, "was", "were"))
}

func unexpectedKeywords(cmd string, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	return fmt.Errorf("%s got unexpected keyword %s %s", cmd,
		plural(len(names), "argument", "arguments"), strings.Join(quoted, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ---- conversions of one argument ----

// argErr formats an error about argument name of cmd.
func argErr(cmd, name, format string, a ...any) error {
	return fmt.Errorf("%s: argument '%s' %s", cmd, name, fmt.Sprintf(format, a...))
}

func missing(cmd, name string) error {
	return fmt.Errorf("%s: missing required argument '%s'", cmd, name)
}

// maxSmall bounds coordinates, sizes and counts: far beyond any machine,
// small enough that no arithmetic on them overflows.
const maxSmall = 1 << 31

// needInt64 converts a required integer (30 and 30.0 are both 30).
func needInt64(cmd, name string, v []byte) (int64, error) {
	if v == nil {
		return 0, missing(cmd, name)
	}
	if isNull(v) || !(v[0] == '-' || isDigit(v[0])) {
		return 0, argErr(cmd, name, "must be an integer, got %s", describeValue(v))
	}
	n, err := decodeInt(v)
	switch {
	case errors.Is(err, errNotInt):
		return 0, argErr(cmd, name, "must be an integer, got %s", describeValue(v))
	case err != nil:
		return 0, argErr(cmd, name, "is out of range (%s)", v)
	}
	return n, nil
}

// needInt converts a required small integer (a coordinate, size or count).
func needInt(cmd, name string, v []byte) (int, error) {
	n, err := needInt64(cmd, name, v)
	if err != nil {
		return 0, err
	}
	if n >= maxSmall || n <= -maxSmall {
		return 0, argErr(cmd, name, "is out of range (%d)", n)
	}
	return int(n), nil
}

// optInt64 converts an optional integer; nil when not given or null.
func optInt64(cmd, name string, v []byte) (*int64, error) {
	if v == nil || isNull(v) {
		return nil, nil
	}
	n, err := needInt64(cmd, name, v)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// optInt converts an optional small integer.
func optInt(cmd, name string, v []byte) (*int, error) {
	if v == nil || isNull(v) {
		return nil, nil
	}
	n, err := needInt(cmd, name, v)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// needFloat converts a required number (integers too).
func needFloat(cmd, name string, v []byte) (float64, error) {
	if v == nil {
		return 0, missing(cmd, name)
	}
	if isNull(v) || !(v[0] == '-' || isDigit(v[0])) {
		return 0, argErr(cmd, name, "must be a number, got %s", describeValue(v))
	}
	f, err := decodeFloat(v)
	if err != nil {
		return 0, argErr(cmd, name, "is out of range (%s)", v)
	}
	return f, nil
}

// needString converts a required string.
func needString(cmd, name string, v []byte) (string, error) {
	if v == nil {
		return "", missing(cmd, name)
	}
	if v[0] != '"' {
		return "", argErr(cmd, name, "must be a string, got %s", describeValue(v))
	}
	s, err := decodeString(v)
	if err != nil {
		return "", argErr(cmd, name, "is not a valid string: %v", err)
	}
	return s, nil
}

// optString converts an optional string; nil when not given or null.
func optString(cmd, name string, v []byte) (*string, error) {
	if v == nil || isNull(v) {
		return nil, nil
	}
	s, err := needString(cmd, name, v)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// optBool converts an optional boolean; def when not given or null.
func optBool(cmd, name string, v []byte, def bool) (bool, error) {
	switch {
	case v == nil || isNull(v):
		return def, nil
	case string(v) == "true":
		return true, nil
	case string(v) == "false":
		return false, nil
	}
	return false, argErr(cmd, name, "must be true or false, got %s", describeValue(v))
}

// optStrings converts an optional list of strings; nil when not given or
// null, an empty non-nil slice for [].
func optStrings(cmd, name string, v []byte) ([]string, error) {
	if v == nil || isNull(v) {
		return nil, nil
	}
	if v[0] != '[' {
		return nil, argErr(cmd, name, "must be a list of strings, got %s", describeValue(v))
	}
	out := []string{}
	err := eachElement(v, func(e []byte) error {
		s, err := needString(cmd, name, e)
		if err != nil {
			return argErr(cmd, name, "must be a list of strings, but holds %s", describeValue(e))
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendCompact appends validated JSON v without insignificant whitespace.
func appendCompact(b, v []byte) []byte {
	inString := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inString:
			b = append(b, c)
			if c == '\\' && i+1 < len(v) {
				i++
				b = append(b, v[i])
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
			b = append(b, c)
		case isSpace(c):
		default:
			b = append(b, c)
		}
	}
	return b
}
