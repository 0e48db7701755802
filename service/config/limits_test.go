package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settingTOML writes key (a full name from the range tables) = value as a
// file: [server]/[bmp] keys in their table, machine keys in a fake BMP of a
// single-board machine.
func settingTOML(key, value string) string {
	table, name, _ := strings.Cut(key, ".")
	if table == "machine" {
		sub, field, _ := strings.Cut(name, ".")
		return fmt.Sprintf("[[machine]]\nname = \"m\"\nsingle_board = { bmp_ip = \"10.0.0.0\", spinnaker_ip = \"10.0.0.1\" }\n%s = { %s = %s }\n", sub, field, value)
	}
	return fmt.Sprintf("[%s]\n%s = %s\n", table, name, value)
}

func sortedKeys[T any](m map[string][2]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Every numeric setting takes the ends of its range and refuses what lies
// just outside, naming the key and the range.
func TestEveryNumericSettingIsRangeChecked(t *testing.T) {
	check := func(t *testing.T, key, inLow, inHigh, outLow, outHigh, want string) {
		t.Helper()
		for _, v := range []string{inLow, inHigh} {
			if _, err := Parse([]byte(settingTOML(key, v)), testFile); err != nil {
				t.Errorf("%s = %s refused: %v", key, v, err)
			}
		}
		field := strings.TrimPrefix(key, "machine.")
		for _, v := range []string{outLow, outHigh} {
			_, err := Parse([]byte(settingTOML(key, v)), testFile)
			wantErrorContaining(t, err, field+": must be from "+want)
		}
	}
	for _, key := range sortedKeys(intRanges) {
		r := intRanges[key]
		check(t, key, fmt.Sprint(r[0]), fmt.Sprint(r[1]), fmt.Sprint(r[0]-1), fmt.Sprint(r[1]+1),
			fmt.Sprintf("%d to %d", r[0], r[1]))
	}
	for _, key := range sortedKeys(durationRanges) {
		r := durationRanges[key]
		q := func(d time.Duration) string { return `"` + d.String() + `"` }
		check(t, key, q(r[0]), q(r[1]), q(r[0]-1), q(r[1]+1),
			fmt.Sprintf("%s to %s", FormatDuration(r[0]), FormatDuration(r[1])))
	}
	for _, key := range sortedKeys(floatRanges) {
		r := floatRanges[key]
		check(t, key, formatFloat(r[0]), formatFloat(r[1]), "-0.5", formatFloat(r[1]+1), formatFloat(r[0])+" to "+formatFloat(r[1]))
		_, err := Parse([]byte(settingTOML(key, "nan")), testFile)
		wantErrorContaining(t, err, "must be from")
	}
}

// Values that once overflowed the line reader or a retry loop.
func TestHugeNumbersAreRefused(t *testing.T) {
	for _, text := range []string{
		"[server]\nmax_line_bytes = 9223372036854775807\n",
		"[bmp]\nretries = 9223372036854775807\n",
		"[server]\nmax_connections = -9223372036854775808\n",
		"[bmp]\ntimeout = \"2562047h\"\n",
	} {
		if _, err := Parse([]byte(text), testFile); err == nil || !strings.Contains(err.Error(), "must be from") {
			t.Errorf("%q: %v, want a range error", text, err)
		}
	}
}

func TestConnectionLimitsDefaultFromTheOpenFileLimit(t *testing.T) {
	for _, c := range []struct {
		given, givenPer int
		files           uint64
		bmps            int
		total, per      int
	}{
		{files: 1024, bmps: 10, total: 1024 - reservedFiles - 10, per: (1024 - reservedFiles - 10) / 2},
		{files: 1 << 40, total: 1_000_000 - reservedFiles, per: (1_000_000 - reservedFiles) / 2},
		{files: 100, bmps: 5, total: 1, per: 1}, // less than the reserve: one connection still
		{given: 50, files: 1024, total: 50, per: 25},
		{given: 50, givenPer: 3, files: 1024, total: 50, per: 3},
	} {
		s := ServerSettings{MaxConnections: c.given, MaxConnectionsPerAddress: c.givenPer}
		total, per := s.ConnectionLimits(c.files, c.bmps)
		if total != c.total || per != c.per {
			t.Errorf("%+v: %d in all, %d per address; want %d, %d", c, total, per, c.total, c.per)
		}
	}
}

// A file is measured before it is parsed: too large, or nested too deep
// (which made the parser take minutes), is refused at once with its line.
func TestFileShapeIsBoundedBeforeParsing(t *testing.T) {
	nested := func(depth int) string {
		return "[server]\nx = " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
	}
	_, err := Parse([]byte(nested(20_000)), testFile)
	wantErrorContaining(t, err, testFile+":2: arrays and inline tables nested more than 16 deep")
	inline := "[server]\n\nx = " + strings.Repeat("{ a = ", 3000) + "1" + strings.Repeat(" }", 3000) + "\n"
	_, err = Parse([]byte(inline), testFile)
	wantErrorContaining(t, err, testFile+":3: arrays and inline tables nested more than 16 deep")

	// 16 deep is parsed (and then refused as an unknown key); brackets in
	// strings and comments do not count.
	_, err = Parse([]byte(nested(16)), testFile)
	wantErrorContaining(t, err, `unknown key "x"`)
	quoted := "# [[[[[[[[[[[[[[[[[[[[\n[server]\nlisten = \"[[[[[[[[[[[[[[[[[[[[:1\" # {{{{{{{{{{{{{{{{{{{{\n" +
		"[[machine]]\nname = 'x[[[[[[[[[[[[[[[[[['\ntags = [\"\"\"\n[[[[[[[[[[[[[[[[[[[[\"\"\"]\n"
	_, err = Parse([]byte(quoted), testFile)
	if err != nil && strings.Contains(err.Error(), "nested") {
		t.Errorf("brackets inside strings or comments counted: %v", err)
	}

	big := make([]byte, MaxFileBytes+1)
	_, err = Parse(big, testFile)
	wantErrorContaining(t, err, fmt.Sprintf("the file is %d bytes, larger than the %d allowed", MaxFileBytes+1, MaxFileBytes))
	path := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	wantErrorContaining(t, err, "big.toml: cannot read the file:", "larger than the")
}

// A syntax error is reported at the line of the mistake.
func TestSyntaxErrorsAtTheirLine(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "unclosed table name (the newline is the bad character)",
			toml:    "[server]\nlisten = \"a:1\" # c\nhttp = \"b:2\"\n[bmp\ntimeout = \"1s\"\n",
			wantErr: []string{testFile + ":4: expected '.' or ']' to end table name"}},
		{name: "value missing at the end of the line",
			toml:    "[server]\nlisten =\nhttp = \"b:2\"\n",
			wantErr: []string{testFile + ":2: expected value but found '\\n'"}},
		{name: "missing comma between elements on their own lines",
			toml:    "[[machine]]\nname = \"m\"\ndead_links = [\n  [0, 0, 0, \"north\"]\n\n  # the next one\n  [0, 0, 1, \"north\"],\n]\n",
			wantErr: []string{testFile + ":4: expected a comma", "(is a comma missing at the end of line 4?)"}},
		{name: "windows line ends",
			toml:    "[server]\r\nlisten = \"a:1\r\nhttp = \"b\"\r\n",
			wantErr: []string{testFile + ":2: strings cannot contain newlines"}},
	})
}

// Load requires a machine; a file with settings only is a mistake.
func TestLoadNeedsAMachine(t *testing.T) {
	path := writeFile(t, t.TempDir(), "c.toml", "[server]\nlisten = \"127.0.0.1:1\"\n")
	_, err := Load(path)
	wantErrorContaining(t, err, "c.toml: no machine is configured")
}

// Names are URL segments, metric labels and log fields: a safe set of
// characters, of bounded length.
func TestMachineNames(t *testing.T) {
	for _, ok := range []string{"spinn-24", "m3", "Board_a.2", strings.Repeat("x", 64)} {
		if _, err := Parse([]byte(strings.Replace(singleBoard, `"one"`, `"`+ok+`"`, 1)), testFile); err != nil {
			t.Errorf("name %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " m", "a/b", "a b", "a:b", "a+b", "a=b", "a&b", "a,b", "a;b", "a@b", "a$b",
		"a\\nb", "a\\u0000b", "-m", ".m", "ü", strings.Repeat("x", 65), strings.Repeat("y", 1<<20)} {
		_, err := Parse([]byte(strings.Replace(singleBoard, `"one"`, `"`+bad+`"`, 1)), testFile)
		wantErrorContaining(t, err, "is not a usable machine name: use 1 to 64 letters, digits")
		if err != nil && len(err.Error()) > 400 {
			t.Errorf("the message about a long name is %d bytes long", len(err.Error()))
		}
	}
}

// A named pipe given as the token file (or the configuration) is refused at
// once: opening it for reading must not wait for a writer.
func TestNamedPipesDoNotHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("cannot make a named pipe here: %v", err)
	}
	done := make(chan error, 2)
	go func() {
		_, err := Load(writeFile(t, dir, "c.toml", "[server]\nadmin_token_file = \"fifo\"\n"+singleBoard))
		done <- err
	}()
	go func() { _, err := Load(fifo); done <- err }()
	for range 2 {
		select {
		case err := <-done:
			wantErrorContaining(t, err, "not a regular file (a named pipe)")
		case <-time.After(10 * time.Second):
			t.Fatal("reading a named pipe hangs")
		}
	}
}

// A token file every user can read works, with a warning.
func TestReadableTokenFileWarns(t *testing.T) {
	dir := t.TempDir()
	token := writeFile(t, dir, "token", "s3cret\n")
	path := writeFile(t, dir, "c.toml", "[server]\nadmin_token_file = \"token\"\n"+singleBoard)
	for mode, wantWarning := range map[os.FileMode]bool{0o644: true, 0o640: false, 0o600: false} {
		if err := os.Chmod(token, mode); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		warned := len(cfg.Warnings) == 1 && strings.Contains(cfg.Warnings[0],
			"c.toml: server.admin_token_file: "+token+" is readable by every user")
		if warned != wantWarning {
			t.Errorf("mode %04o: warnings %q, want a warning: %v", mode, cfg.Warnings, wantWarning)
		}
	}
}

// The README or docs/ gives every numeric setting's range, on the line
// that shows the key (`key` in a table, or key = in an example), as "FROM
// to TO" in the form a file would use.
func TestEveryRangeIsDocumented(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	var lines []string
	for _, path := range append([]string{"../../README.md"}, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(string(data), "\n")...)
	}
	documented := func(key, text string) {
		t.Helper()
		name := key[strings.LastIndex(key, ".")+1:]
		for _, l := range lines {
			if (strings.Contains(l, "`"+name+"`") || strings.Contains(l, name+" = ")) && strings.Contains(l, text) {
				return
			}
		}
		t.Errorf("no line of the README or docs/ shows %s with its range %q", key, text)
	}
	for key, r := range intRanges {
		documented(key, fmt.Sprintf("%d to %d", r[0], r[1]))
	}
	for key, r := range durationRanges {
		documented(key, FormatDuration(r[0])+" to "+FormatDuration(r[1]))
	}
	for key, r := range floatRanges {
		documented(key, formatFloat(r[0])+" to "+formatFloat(r[1]))
	}
}
