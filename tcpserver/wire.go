package tcpserver

// This file turns one request line into a request: the command name and the
// raw JSON of each positional and keyword argument. It validates JSON as
// strictly as encoding/json does (the fuzz test checks that they agree) but
// does not build generic values: arguments stay raw bytes until a command
// binds them, so the hot path (get_job_state, job_keepalive) allocates
// little.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects in a request; no command
// needs more than three levels.
const maxDepth = 512

// request is one parsed request line. Byte slices point into the line, which
// the reader reuses: a command that keeps bytes past its execution copies
// them.
type request struct {
	command string
	args    [][]byte // positional arguments as sent
	argsRaw []byte   // the "args" array as sent; nil when absent or null
	kwargs  []kwarg  // keyword arguments in the order sent, but for ignoredKeyword
}

// ignoredKeyword is dropped from every request's keyword arguments, whatever
// its value, as the original server dropped it before running any command.
// No command sees it, so list_jobs does not list it among a job's kwargs.
const ignoredKeyword = "client"

// kwarg is one keyword argument as sent.
type kwarg struct {
	name  string
	value []byte
}

// errDepth rejects absurdly nested lines.
var errDepth = errors.New("nested too deeply")

// parseRequest parses one line (without its newline) into a request.
func parseRequest(line []byte) (request, error) {
	var req request
	err := parseRequestInto(&req, line)
	return req, err
}

// parseRequestInto is parseRequest into a request whose lists it reuses, so
// that a connection's steady stream of requests does not allocate them.
func parseRequestInto(req *request, line []byte) error {
	*req = request{args: req.args[:0], kwargs: req.kwargs[:0]}
	body := trimSpace(line)
	if err := validJSON(body); err != nil {
		return fmt.Errorf("invalid request: not valid JSON: %v", err)
	}
	if body[0] != '{' {
		return fmt.Errorf("invalid request: expected a JSON object, got %s", describe(body))
	}
	var command, args, kwargs []byte
	seen := 0
	err := eachMember(body, func(key, val []byte) error {
		bit := 0
		switch {
		case keyIs(key, "command"):
			command, bit = val, 1
		case keyIs(key, "args"):
			args, bit = val, 2
		case keyIs(key, "kwargs"):
			kwargs, bit = val, 4
		}
		if seen&bit != 0 {
			name, _ := decodeString(key)
			return fmt.Errorf("%s given twice", jsonQuote(name))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalid request: %v", err)
	}
	if seen&1 == 0 {
		return errors.New(`invalid request: missing "command"`)
	}
	if command[0] != '"' {
		return fmt.Errorf(`invalid request: "command" must be a string, got %s`, describe(command))
	}
	if req.command, err = commandName(command); err != nil {
		return fmt.Errorf(`invalid request: "command": %v`, err)
	}
	if args != nil && !isNull(args) {
		if args[0] != '[' {
			return fmt.Errorf(`invalid request: "args" must be a list, got %s`, describe(args))
		}
		req.argsRaw = args
		_ = eachElement(args, func(v []byte) error {
			req.args = append(req.args, v)
			return nil
		})
	}
	if kwargs != nil && !isNull(kwargs) {
		if kwargs[0] != '{' {
			return fmt.Errorf(`invalid request: "kwargs" must be an object, got %s`, describe(kwargs))
		}
		err := eachMember(kwargs, func(rawKey, val []byte) error {
			key, err := decodeString(rawKey)
			if err != nil {
				return err
			}
			if key == ignoredKeyword {
				return nil
			}
			for _, kw := range req.kwargs {
				if kw.name == key {
					return fmt.Errorf("keyword argument %s given twice", jsonQuote(key))
				}
			}
			req.kwargs = append(req.kwargs, kwarg{name: key, value: val})
			return nil
		})
		if err != nil {
			return fmt.Errorf("invalid request: %v", err)
		}
	}
	return nil
}

// plainString returns the inside of a validated JSON string that has no
// escapes and only ASCII, which is the string itself; ok false otherwise.
func plainString(v []byte) (inner []byte, ok bool) {
	inner = v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return inner, true
}

// keyIs reports whether the validated JSON string key means name.
func keyIs(key []byte, name string) bool {
	if inner, ok := plainString(key); ok {
		return string(inner) == name
	}
	s, err := decodeString(key)
	return err == nil && s == name
}

// commandName decodes the command string; known command names are not
// allocated again for every request.
func commandName(v []byte) (string, error) {
	if inner, ok := plainString(v); ok {
		if name, known := commandNames[string(inner)]; known {
			return name, nil
		}
	}
	return decodeString(v)
}

// ---- validation ----

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// validJSON reports whether b (trimmed) is exactly one JSON value.
func validJSON(b []byte) error {
	end, err := skipValue(b, 0, 0)
	if err != nil {
		return err
	}
	if end = skipSpace(b, end); end != len(b) {
		return fmt.Errorf("unexpected %s after the value at byte %d", quoteByte(b[end]), end)
	}
	return nil
}

// skipValue returns the index just after the JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, errors.New("unexpected end of line")
	}
	switch c := b[i]; {
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '"':
		return skipString(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	default:
		return i, fmt.Errorf("unexpected %s at byte %d", quoteByte(c), i)
	}
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return i, expected(b, i, "a string key")
		}
		var err error
		if i, err = skipString(b, i); err != nil {
			return i, err
		}
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return i, expected(b, i, "':'")
		}
		if i, err = skipValue(b, i+1, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return i, expected(b, i, "',' or '}'")
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		return i, expected(b, i, "',' or ']'")
	}
}

func skipString(b []byte, i int) (int, error) {
	start := i
	for i++; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return i, fmt.Errorf("control character %s in string at byte %d", quoteByte(c), i)
		case c == '\\':
			i++
			if i >= len(b) {
				return i, errors.New("unexpected end of line in string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, fmt.Errorf("invalid \\u escape at byte %d", i-1)
				}
				i += 4
			default:
				return i, fmt.Errorf("invalid escape %s at byte %d", quoteByte(b[i]), i-1)
			}
		}
	}
	return start, errors.New("unterminated string")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, fmt.Errorf("invalid number at byte %d", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, fmt.Errorf("invalid number at byte %d", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, fmt.Errorf("invalid number at byte %d", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, fmt.Errorf("invalid literal at byte %d (expected %s)", i, lit)
	}
	return i + len(lit), nil
}

func expected(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("unexpected end of line (expected %s)", what)
	}
	return fmt.Errorf("unexpected %s at byte %d (expected %s)", quoteByte(b[i]), i, what)
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// ---- walking validated values ----

// eachMember calls fn for each member of a validated object, in order, with
// the key as a JSON string (quoted, escapes undecoded). It only fails if fn
// fails.
func eachMember(obj []byte, fn func(key, val []byte) error) error {
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return nil
	}
	for {
		i = skipSpace(obj, i)
		kend, _ := skipString(obj, i)
		key := obj[i:kend]
		i = skipSpace(obj, kend) + 1 // ':'
		vstart := skipSpace(obj, i)
		vend, _ := skipValue(obj, vstart, 0)
		if err := fn(key, obj[vstart:vend]); err != nil {
			return err
		}
		i = skipSpace(obj, vend)
		if obj[i] == '}' {
			return nil
		}
		i++ // ','
	}
}

// eachElement calls fn for each element of a validated array, in order.
func eachElement(arr []byte, fn func(val []byte) error) error {
	i := skipSpace(arr, 1)
	if arr[i] == ']' {
		return nil
	}
	for {
		vstart := skipSpace(arr, i)
		vend, _ := skipValue(arr, vstart, 0)
		if err := fn(arr[vstart:vend]); err != nil {
			return err
		}
		i = skipSpace(arr, vend)
		if arr[i] == ']' {
			return nil
		}
		i++ // ','
	}
}

// ---- decoding single validated values ----

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// describe names the JSON type of a validated value, for error messages.
func describe(v []byte) string {
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// describeValue is describe plus the value itself when it is short.
func describeValue(v []byte) string {
	if isNull(v) {
		return "null"
	}
	if len(v) <= 40 && v[0] != '{' && v[0] != '[' {
		return describe(v) + " (" + string(v) + ")"
	}
	return describe(v)
}

// decodeString decodes a validated JSON string; invalid UTF-8 becomes
// U+FFFD as with encoding/json.
func decodeString(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' {
		return "", fmt.Errorf("expected a string, got %s", describe(v))
	}
	inner := v[1 : len(v)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	return s, nil
}

// errNotInt and errRange say why a number is not usable as an integer.
var (
	errNotInt = errors.New("not an integer")
	errRange  = errors.New("out of range")
)

// decodeInt decodes a validated JSON number that must be integral; 30 and
// 30.0 are both 30.
func decodeInt(v []byte) (int64, error) {
	if len(v) == 0 || !(v[0] == '-' || isDigit(v[0])) {
		return 0, errNotInt
	}
	plain := true
	for _, c := range v {
		if c == '.' || c == 'e' || c == 'E' {
			plain = false
			break
		}
	}
	if plain && len(v) <= 18 {
		// At most 18 characters: cannot overflow, no allocation.
		neg := v[0] == '-'
		if neg {
			v = v[1:]
		}
		var n int64
		for _, c := range v {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	if plain {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, errRange
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, errRange
	}
	if f != math.Trunc(f) {
		return 0, errNotInt
	}
	// 2^63 is exactly representable; anything at or beyond it is out of range.
	if f >= 1<<63 || f < -(1<<63) {
		return 0, errRange
	}
	return int64(f), nil
}

// decodeFloat decodes a validated JSON number.
func decodeFloat(v []byte) (float64, error) {
	if len(v) == 0 || !(v[0] == '-' || isDigit(v[0])) {
		return 0, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, errRange
	}
	return f, nil
}

// jsonQuote quotes s as JSON does, for error messages about names the
// client sent.
func jsonQuote(s string) string { return string(appendString(nil, s)) }
