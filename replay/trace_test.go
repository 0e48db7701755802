package replay

import (
	"strings"
	"testing"
)

const header = TraceHeader + "\n"

func TestParseTraceReadsEveryColumn(t *testing.T) {
	text := "# made by hand\n" + header +
		"1,0.5,none,,,,0.333,0,,0,,,10\n" +
		"# comments may appear anywhere\n" +
		"2,12.25,boards,6,,,,,,0,,,1.5\n" +
		"3,12.25,triads,2,3,,0.5,1,2,1,,a;b,0.001\r\n" +
		"4,99,board,3,4,2,,,,,spin48,,7.125\n"
	tr, err := ParseTrace(strings.NewReader(text), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Jobs) != 4 {
		t.Fatalf("got %d jobs, want 4", len(tr.Jobs))
	}
	j := tr.Jobs
	if j[0].ID != 1 || j[0].Line != 3 || j[0].Arrival != 500 || j[0].Form != FormNone || j[0].Duration != 10000 ||
		*j[0].MinRatio != 0.333 || *j[0].MaxDeadBoards != 0 || j[0].MaxDeadLinks != nil || j[0].Tags != nil {
		t.Errorf("row 1 = %+v", j[0])
	}
	if j[1].Arrival != 12250 || j[1].Form != FormBoards || j[1].V[0] != 6 || j[1].MinRatio != nil ||
		j[1].MaxDeadBoards != nil || j[1].Duration != 1500 || j[1].Requested() != 6 {
		t.Errorf("row 2 = %+v", j[1])
	}
	if j[2].Form != FormTriads || j[2].V != [3]int{2, 3, 0} || !j[2].RequireTorus || *j[2].MaxDeadLinks != 2 ||
		strings.Join(j[2].Tags, "|") != "a|b" || j[2].Duration != 1 || j[2].Requested() != 18 {
		t.Errorf("row 3 = %+v", j[2])
	}
	if j[3].Form != FormBoard || j[3].V != [3]int{3, 4, 2} || j[3].Machine != "spin48" || j[3].RequireTorus ||
		j[3].Line != 7 || j[3].Requested() != 1 {
		t.Errorf("row 4 = %+v", j[3])
	}
}

func TestParseTraceErrorsNameFileAndLine(t *testing.T) {
	row := func(s string) string { return "# c\n" + header + s + "\n" }
	tests := []struct {
		name, text, want string
	}{
		{"no header", "# only comments\n", "t.csv: no header line"},
		{"wrong header", "# c\njob_id,arrival_s\n", "t.csv:2: the first line that is not a comment must be the header"},
		{"columns", row("1,0,none,,,,,,,0,,"), "t.csv:3: want 13 comma-separated columns, got 12"},
		{"job id", row("x,0,none,,,,,,,0,,,1"), `t.csv:3: job_id: want an integer, got "x"`},
		{"job id zero", row("0,0,none,,,,,,,0,,,1"), "t.csv:3: job_id: must be at least 1, got 0"},
		{"four decimals", row("1,0.1234,none,,,,,,,0,,,1"), `t.csv:3: arrival_s: at most 3 decimals allowed, got "0.1234"`},
		{"negative time", row("1,-1,none,,,,,,,0,,,1"), `t.csv:3: arrival_s: want decimal seconds such as 12.5, got "-1"`},
		{"exponent", row("1,1e3,none,,,,,,,0,,,1"), `t.csv:3: arrival_s: want decimal seconds`},
		{"zero duration", row("1,0,none,,,,,,,0,,,0.000"), `t.csv:3: duration_s must be above 0, got "0.000"`},
		{"form", row("1,0,blocks,2,,,,,,0,,,1"), `t.csv:3: form "blocks" is not one of none, boards, triads, board`},
		{"missing value", row("1,0,triads,2,,,,,,0,,,1"), `t.csv:3: v2: want an integer for form triads, got ""`},
		{"extra value", row("1,0,boards,2,3,,,,,0,,,1"), `t.csv:3: v2 must be empty for form boards, got "3"`},
		{"zero boards", row("1,0,boards,0,,,,,,0,,,1"), "t.csv:3: v1 must be at least 1 for form boards, got 0"},
		{"negative board", row("1,0,board,0,-1,0,,,,0,m,,1"), "t.csv:3: v2 must be at least 0 for form board, got -1"},
		{"ratio", row("1,0,none,,,,abc,,,0,,,1"), `t.csv:3: min_ratio: want a number, got "abc"`},
		{"dead boards", row("1,0,none,,,,,-1,,0,,,1"), "t.csv:3: max_dead_boards: must not be negative, got -1"},
		{"dead links", row("1,0,none,,,,,,x,0,,,1"), `t.csv:3: max_dead_links: want an integer or empty, got "x"`},
		{"torus", row("1,0,none,,,,,,,yes,,,1"), `t.csv:3: require_torus: want 0, 1 or empty, got "yes"`},
		{"empty tag", row("1,0,none,,,,,,,0,,a;;b,1"), `t.csv:3: tags: empty tag in "a;;b"`},
		{"machine and tags", row("1,0,none,,,,,,,0,m,a,1"), `t.csv:3: machine "m" and tags "a" are both given`},
		{"duplicate id", row("1,0,none,,,,,,,0,,,1\n1,0,none,,,,,,,0,,,1"), "t.csv:4: job_id 1 is already used on line 3"},
		{"descending id", row("2,0,none,,,,,,,0,,,1\n1,0,none,,,,,,,0,,,1"), "t.csv:4: job_id 1 is below the previous row's 2"},
		{"time goes back", row("1,5,none,,,,,,,0,,,1\n2,4.999,none,,,,,,,0,,,1"),
			"t.csv:4: arrival_s 4.999 is before the previous row's 5.000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrace(strings.NewReader(tc.text), "t.csv")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseMS(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"12.5", 12500}, {"12.05", 12050}, {"0.001", 1}, {"476.000", 476000}, {"1713593.83", 1713593830},
	}
	for _, tc := range tests {
		got, err := parseMS(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseMS(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", ".5", "5.", "1.2.3", "+1", " 1", "1,5", "0x10", "1234567890123"} {
		if _, err := parseMS(bad); err == nil {
			t.Errorf("parseMS(%q) accepted", bad)
		}
	}
}

func TestReadTraceOfMissingFileSaysSo(t *testing.T) {
	_, err := ReadTrace("testdata/no-such.csv")
	if err == nil || !strings.Contains(err.Error(), "no-such.csv") {
		t.Fatalf("error = %v", err)
	}
}
