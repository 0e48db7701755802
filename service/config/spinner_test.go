package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const conf19CSV = `cabinet,frame,board,x,y
0,0,0,0,0
0,0,2,4,8
0,0,4,8,4
0,0,5,12,0
0,0,3,16,8
0,0,1,20,4
`

// spinnerMachine writes a config and a CSV next to it and loads them.
func spinnerMachine(t *testing.T, csv string, extra ...string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "chips.csv", csv)
	text := "[[machine]]\nname = \"sp\"\nstandard_ips = {}\nspinner_csv = \"chips.csv\"\n" + strings.Join(extra, "\n") + "\n"
	return Load(writeFile(t, dir, testFile, text))
}

func TestConf19SpinnerCSV(t *testing.T) {
	cfg, err := spinnerMachine(t, conf19CSV)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Machines[0]
	if m.Width != 2 || m.Height != 1 {
		t.Errorf("size %dx%d, want 2x1 (chips rounded up to whole triads)", m.Width, m.Height)
	}
	want := map[[3]int][3]int{
		{0, 0, 0}: {0, 0, 0}, {0, 0, 1}: {0, 0, 4}, {0, 0, 2}: {0, 0, 2},
		{1, 0, 0}: {0, 0, 5}, {1, 0, 1}: {0, 0, 1}, {1, 0, 2}: {0, 0, 3},
	}
	if len(m.Boards) != len(want) {
		t.Fatalf("%d boards, want %d", len(m.Boards), len(want))
	}
	for _, p := range m.Boards {
		xyz := [3]int{p.Board.X, p.Board.Y, p.Board.Z}
		if got := [3]int{p.Cabinet, p.Frame, p.BoardNum}; got != want[xyz] {
			t.Errorf("board %v at %v, want %v", p.Board, got, want[xyz])
		}
	}
}

func TestSpinnerCSVColumnsInAnyOrder(t *testing.T) {
	csv := "x, y, board ,cabinet,FRAME,comment\n# a comment line\n0,0,0,0,0,first\n8,4,1,0,0,\n4,8,2,0,0,last\n"
	cfg, err := spinnerMachine(t, csv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Machines[0]; got.Width != 1 || len(got.Boards) != 3 || got.Boards[2].BoardNum != 2 {
		t.Errorf("machine %+v, want 1x1 with boards in slots 0..2", got)
	}
}

func TestSpinnerCSVWithGivenSize(t *testing.T) {
	cfg, err := spinnerMachine(t, conf19CSV, "width = 2", "height = 2", "dead_boards = [[0, 1, 0], [0, 1, 1], [0, 1, 2], [1, 1, 0], [1, 1, 1], [1, 1, 2]]")
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Machines[0]; m.Height != 2 || len(m.Boards) != 6 {
		t.Errorf("machine %dx%d with %d boards, want 2x2 with 6", m.Width, m.Height, len(m.Boards))
	}
}

func TestSpinnerCSVErrors(t *testing.T) {
	cases := []struct {
		name  string
		csv   string
		extra []string
		want  []string
	}{
		{"missing column", "cabinet,frame,board,x\n0,0,0,0\n", nil,
			[]string{"chips.csv:1:", `lacks column "y"`}},
		{"column twice", "cabinet,frame,board,x,y,x\n", nil,
			[]string{"chips.csv:1:", `names column "x" twice`}},
		{"empty file", "", nil, []string{"chips.csv: empty file"}},
		{"not a number", "cabinet,frame,board,x,y\n0,0,0,0,0\n0,0,one,8,4\n0,0,2,-4,8\n", nil,
			[]string{`chips.csv:3: board "one" is not a whole number`, `chips.csv:4: x "-4" is not a whole number`}},
		{"short line", "cabinet,frame,board,x,y\n0,0,0,0\n", nil,
			[]string{"chips.csv:2: 4 fields, but the header has 5"}},
		{"bad quoting", "cabinet,frame,board,x,y\n0,0,\"0,0,0\n", nil, []string{"chips.csv:"}},
		{"not an Ethernet chip", "cabinet,frame,board,x,y\n0,0,0,1,0\n", nil,
			[]string{"spinner_csv (", "chips.csv:2)", "chip (1, 0) is not an Ethernet chip (board (0, 0, 0) has its Ethernet chip at (0, 0))"}},
		{"chip outside the given size", conf19CSV, []string{"width = 1", "height = 1"},
			[]string{"chips.csv:5)", "chip (12, 0) is outside the 1x1-triad machine (12x12 chips)"}},
		{"two boards in one slot", "cabinet,frame,board,x,y\n0,0,0,0,0\n0,0,0,8,4\n0,0,2,4,8\n", nil,
			[]string{"chips.csv:3)", "boards (0, 0, 0) and (0, 0, 1) are both placed in cabinet 0, frame 0, board 0"}},
		{"a board missing", "cabinet,frame,board,x,y\n0,0,0,0,0\n0,0,2,4,8\n", nil,
			[]string{`machine "sp": spinner_csv: no position for live boards (0, 0, 1)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spinnerMachine(t, tc.csv, tc.extra...)
			wantErrorContaining(t, err, append([]string{testFile, `machine "sp"`}, tc.want...)...)
		})
	}
}

func TestSpinnerCSVMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, testFile, "[[machine]]\nname = \"sp\"\nstandard_ips = {}\nspinner_csv = \"nowhere.csv\"\n")
	_, err := Load(path)
	wantErrorContaining(t, err, `machine "sp": spinner_csv: cannot read `+filepath.Join(dir, "nowhere.csv"), "no such file")
}

func TestReadSpinnerCSVLines(t *testing.T) {
	rows, err := ReadSpinnerCSV(strings.NewReader("# made by hand\ncabinet,frame,board,x,y\n\n1,2,3,4,5\n"), "c.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []SpinnerRow{{Line: 4, Cabinet: 1, Frame: 2, Board: 3, X: 4, Y: 5}}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %+v, want %+v", rows, want)
	}
}

func TestReadSpinnerCSVReportsAtMostTenLines(t *testing.T) {
	text := "cabinet,frame,board,x,y\n" + strings.Repeat("a,b,c,d,e\n", 50)
	_, err := ReadSpinnerCSV(strings.NewReader(text), "c.csv")
	if n := strings.Count(err.Error(), "c.csv:"); n != maxCSVErrors {
		t.Errorf("%d lines reported, want %d:\n%v", n, maxCSVErrors, err)
	}
}

func TestSpinnerCSVMustBeARegularFile(t *testing.T) {
	_, err := Parse([]byte("[[machine]]\nname = \"sp\"\nstandard_ips = {}\nspinner_csv = \"/dev/null\"\n"), testFile)
	wantErrorContaining(t, err, `machine "sp": spinner_csv: cannot read /dev/null: not a regular file (a device)`)
}
