package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// jnode is a JSON value that remembers where it starts in its file, so that
// a value that is well-formed JSON but wrong for us can be reported with its
// line.
type jnode struct {
	off  int64 // byte offset of the value's first character
	kind jkind
	str  string
	num  json.Number
	b    bool
	arr  []*jnode
	keys []string // object keys in file order
	obj  map[string]*jnode
}

type jkind int

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "a list", "an object"}[k]
}

// jsonDoc is a parsed JSON file: its tree and what turns offsets into lines.
type jsonDoc struct {
	name string
	data []byte
	root *jnode
}

func parseJSONDoc(data []byte, name string) (*jsonDoc, error) {
	d := &jsonDoc{name: name, data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := d.value(dec)
	if err != nil {
		return nil, d.syntaxError(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, d.errorAt(dec.InputOffset(), "unexpected data after the top-level value")
	}
	d.root = root
	return d, nil
}

func (d *jsonDoc) syntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return d.errorAt(se.Offset, "invalid JSON: %v", se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errorAt(int64(len(d.data)), "invalid JSON: unexpected end of file")
	}
	return d.errorAt(dec.InputOffset(), "invalid JSON: %v", err)
}

// start finds the first character of the next value at or after off,
// skipping white space and the separators the decoder does not return.
func (d *jsonDoc) start(off int64) int64 {
	for off < int64(len(d.data)) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func (d *jsonDoc) value(dec *json.Decoder) (*jnode, error) {
	off := d.start(dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{off: off}
	switch t := tok.(type) {
	case nil:
		n.kind = jNull
	case bool:
		n.kind, n.b = jBool, t
	case json.Number:
		n.kind, n.num = jNumber, t
	case string:
		n.kind, n.str = jString, t
	case json.Delim:
		if t == '[' {
			return n, d.array(dec, n)
		}
		return n, d.object(dec, n)
	}
	return n, nil
}

func (d *jsonDoc) array(dec *json.Decoder, n *jnode) error {
	n.kind = jArray
	for dec.More() {
		v, err := d.value(dec)
		if err != nil {
			return err
		}
		n.arr = append(n.arr, v)
	}
	_, err := dec.Token() // ']'
	return err
}

func (d *jsonDoc) object(dec *json.Decoder, n *jnode) error {
	n.kind, n.obj = jObject, map[string]*jnode{}
	for dec.More() {
		keyOff := d.start(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if _, dup := n.obj[key]; dup {
			return d.errorAt(keyOff, "key %q appears twice", key)
		}
		v, err := d.value(dec)
		if err != nil {
			return err
		}
		n.keys = append(n.keys, key)
		n.obj[key] = v
	}
	_, err := dec.Token() // '}'
	return err
}

func (d *jsonDoc) line(off int64) int {
	if off > int64(len(d.data)) {
		off = int64(len(d.data))
	}
	return 1 + bytes.Count(d.data[:off], []byte{'\n'})
}

func (d *jsonDoc) errorAt(off int64, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.name, d.line(off), fmt.Sprintf(format, args...))
}

// errorf reports a problem with value n found at path (e.g.
// "machines[0].width").
func (d *jsonDoc) errorf(n *jnode, path, format string, args ...any) error {
	return d.errorAt(n.off, "%s: %s", path, fmt.Sprintf(format, args...))
}

func (d *jsonDoc) wantKind(n *jnode, path string, k jkind) error {
	if n.kind != k {
		return d.errorf(n, path, "want %v, got %v", k, n.kind)
	}
	return nil
}

func (d *jsonDoc) int(n *jnode, path string) (int, error) {
	if n.kind != jNumber {
		return 0, d.errorf(n, path, "want an integer, got %v", n.kind)
	}
	v, err := strconv.Atoi(n.num.String())
	if err != nil {
		return 0, d.errorf(n, path, "want an integer, got %s", n.num)
	}
	return v, nil
}

func (d *jsonDoc) float(n *jnode, path string) (float64, error) {
	if n.kind != jNumber {
		return 0, d.errorf(n, path, "want a number, got %v", n.kind)
	}
	v, err := n.num.Float64()
	if err != nil {
		return 0, d.errorf(n, path, "want a number, got %s", n.num)
	}
	return v, nil
}

func (d *jsonDoc) string(n *jnode, path string) (string, error) {
	if err := d.wantKind(n, path, jString); err != nil {
		return "", err
	}
	return n.str, nil
}

// checkKeys rejects keys of object n outside allowed and reports missing
// required ones.
func (d *jsonDoc) checkKeys(n *jnode, path string, required, optional []string) error {
	allowed := map[string]bool{}
	for _, k := range append(append([]string(nil), required...), optional...) {
		allowed[k] = true
	}
	for _, k := range n.keys {
		if !allowed[k] {
			return d.errorf(n.obj[k], path, "unknown key %q", k)
		}
	}
	for _, k := range required {
		if _, ok := n.obj[k]; !ok {
			return d.errorf(n, path, "missing key %q", k)
		}
	}
	return nil
}
