package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

func TestParseMachinesReadsTheShippedFile(t *testing.T) {
	ms, err := ReadMachines("testdata/small-48b-load0.3.machine.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Machines) != 1 || ms.SecondsBeforeFree != 0 || ms.Trace != "small-48b-load0.3.csv" {
		t.Fatalf("got %+v", ms)
	}
	m := ms.Machines[0]
	if m.Name != "spin48" || m.Width != 4 || m.Height != 4 || strings.Join(m.Tags, ",") != "default" {
		t.Errorf("machine = %+v", m)
	}
	if len(m.DeadBoards) != 1 || m.DeadBoards[0] != (geometry.Board{X: 2, Y: 0, Z: 2}) {
		t.Errorf("dead boards = %v", m.DeadBoards)
	}
	want := DeadLink{Board: geometry.Board{X: 0, Y: 2, Z: 2}, Link: geometry.NorthEast}
	if len(m.DeadLinks) != 4 || m.DeadLinks[0] != want {
		t.Errorf("dead links = %v, want 4 starting with %v", m.DeadLinks, want)
	}
	if ms.WorkingBoards() != 47 {
		t.Errorf("working boards = %d, want 47", ms.WorkingBoards())
	}
}

func TestParseMachinesSecondsBeforeFree(t *testing.T) {
	text := `{"format": "spalloc-trace-machines/1", "seconds_before_free": 30.5,
	"machines": [{"name": "m", "width": 1, "height": 2}]}`
	ms, err := ParseMachines([]byte(text), "m.json")
	if err != nil {
		t.Fatal(err)
	}
	if ms.SecondsBeforeFree != 30500*time.Millisecond || ms.WorkingBoards() != 6 || len(ms.Machines[0].Tags) != 0 {
		t.Fatalf("got %+v", ms)
	}
}

func TestParseMachinesErrorsNameFileAndLine(t *testing.T) {
	machine := func(body string) string {
		return "{\n \"format\": \"spalloc-trace-machines/1\",\n \"machines\": [\n  {\"name\": \"m\", \"width\": 2, \"height\": 2,\n" + body + "}\n ]\n}\n"
	}
	tests := []struct {
		name, text, want string
	}{
		{"syntax", "{\n \"format\": \"x\",,\n}", "m.json:2: invalid JSON"},
		{"truncated", "{\n \"format\": ", "m.json:2: invalid JSON: unexpected end of file"},
		{"not an object", "[]", "m.json:1: top level: want an object, got a list"},
		{"format", "{\n\"format\": \"other/1\", \"machines\": []}", `m.json:2: format: want "spalloc-trace-machines/1", got "other/1"`},
		{"missing machines", "{\"format\": \"spalloc-trace-machines/1\"}", `m.json:1: top level: missing key "machines"`},
		{"no machines", "{\"format\": \"spalloc-trace-machines/1\",\n \"machines\": []}", "m.json:2: machines: the list is empty"},
		{"unknown key", machine("   \"dead_board\": []"), `m.json:5: machines[0]: unknown key "dead_board"`},
		{"width", "{\"format\": \"spalloc-trace-machines/1\", \"machines\": [\n{\"name\": \"m\", \"width\": 0, \"height\": 1}]}",
			"m.json:2: machines[0].width: want a number of triads from 1 to 256, got 0"},
		{"height type", "{\"format\": \"spalloc-trace-machines/1\", \"machines\": [\n{\"name\": \"m\", \"width\": 1, \"height\": \"2\"}]}",
			"m.json:2: machines[0].height: want an integer, got a string"},
		{"dead board outside", machine("   \"dead_boards\": [[0, 0, 1],\n     [2, 0, 0]]"),
			"m.json:6: machines[0].dead_boards[1]: board (2, 0, 0) is outside the 2x2-triad machine"},
		{"dead board shape", machine("   \"dead_boards\": [[0, 0]]"), "m.json:5: machines[0].dead_boards[0]: want [x, y, z]"},
		{"dead board twice", machine("   \"dead_boards\": [[0, 0, 1], [0, 0, 1]]"), "m.json:5: machines[0].dead_boards[1]: board (0, 0, 1) is listed twice"},
		{"link name", machine("   \"dead_links\": [\n [0, 0, 1, \"up\"]]"), `m.json:6: machines[0].dead_links[0][3]: unknown link "up"`},
		{"link z", machine("   \"dead_links\": [[0, 0, 3, \"east\"]]"), "m.json:5: machines[0].dead_links[0]: board (0, 0, 3) is outside"},
		{"duplicate key", "{\"format\": \"a\",\n \"format\": \"b\"}", `m.json:2: key "format" appears twice`},
		{"duplicate machine", "{\"format\": \"spalloc-trace-machines/1\", \"machines\": [\n{\"name\": \"m\", \"width\": 1, \"height\": 1},\n" +
			"{\"name\": \"m\", \"width\": 1, \"height\": 1}]}", `m.json:3: machines[1].name: machine "m" is already defined by machines[0]`},
		{"delay", "{\"format\": \"spalloc-trace-machines/1\",\n\"seconds_before_free\": -1, \"machines\": []}",
			"m.json:2: seconds_before_free: want a number of seconds"},
		{"trailing data", "{\"format\": \"spalloc-trace-machines/1\", \"machines\": [{\"name\": \"m\", \"width\": 1, \"height\": 1}]}\n{}",
			"m.json:2: unexpected data after the top-level value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMachines([]byte(tc.text), "m.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestServiceConfigPlacesEveryBoard(t *testing.T) {
	ms, err := ReadMachines("testdata/small-48b-load0.3.machine.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ServiceConfig(ms)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Machines[0]
	if len(m.Boards) != 47 || len(m.DeadBoardPositions) != 1 || len(m.BMPs) != 16 || len(m.DeadLinks) != 4 {
		t.Fatalf("boards %d, dead positions %d, BMPs %d, dead links %d; want 47, 1, 16, 4",
			len(m.Boards), len(m.DeadBoardPositions), len(m.BMPs), len(m.DeadLinks))
	}
	ips := map[string]bool{}
	for _, b := range append(m.Boards, m.DeadBoardPositions...) {
		if b.Cabinet != b.Board.X || b.Frame != b.Board.Y || b.BoardNum != b.Board.Z {
			t.Errorf("board %v at c%d f%d b%d", b.Board, b.Cabinet, b.Frame, b.BoardNum)
		}
		ips[b.IP] = true
	}
	for _, b := range m.BMPs {
		ips[b.Address] = true
	}
	if len(ips) != 48+16 {
		t.Errorf("%d distinct addresses, want %d", len(ips), 48+16)
	}
}
