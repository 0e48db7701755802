package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/spalloc/spallocd/service/config/internal/spinnergen"
	"github.com/spalloc/spallocd/service/geometry"
)

var update = flag.Bool("update", false, "rewrite generated example files")

const examplesDir = "../../examples"

func loadExample(t *testing.T, name string) *Config {
	t.Helper()
	cfg, err := Load(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatalf("example %s does not load:\n%v", name, err)
	}
	return cfg
}

func TestExampleSingleBoard(t *testing.T) {
	cfg := loadExample(t, "single-board.toml")
	if len(cfg.Machines) != 1 || len(cfg.Machines[0].Boards) != 1 {
		t.Fatalf("machines %+v, want one machine with one board", cfg.Machines)
	}
}

func TestExampleSpinn24(t *testing.T) {
	cfg := loadExample(t, "spinn-24.toml")
	m := cfg.Machines[0]
	if m.Name != "spinn-24" || m.Width != 4 || m.Height != 2 || len(m.Boards) != 24 {
		t.Fatalf("machine %s %dx%d with %d boards, want spinn-24 4x2 with 24", m.Name, m.Width, m.Height, len(m.Boards))
	}
	if want := []BMP{{0, 0, "10.2.0.0"}}; !slices.Equal(m.BMPs, want) {
		t.Errorf("BMPs %v, want %v", m.BMPs, want)
	}
	if last := m.Boards[23]; last.Board != board(3, 1, 2) || last.BoardNum != 23 || last.IP != "10.2.0.185" {
		t.Errorf("board (3, 1, 2) is %+v, want slot 23 at 10.2.0.185", last)
	}
	wantDB := filepath.Join(examplesDir, "spalloc.db")
	if cfg.Server.Database != wantDB {
		t.Errorf("database %q, want %q (relative to the file's folder)", cfg.Server.Database, wantDB)
	}
}

func TestExampleSpinnaker1200(t *testing.T) {
	cfg := loadExample(t, "spinnaker-1200.toml")
	m := cfg.Machines[0]
	if m.Width != 20 || m.Height != 20 {
		t.Errorf("size %dx%d, want 20x20 inferred from the CSV", m.Width, m.Height)
	}
	if len(m.Boards) != 1195 || len(m.DeadBoardPositions) != 5 || len(m.DeadLinks) != 16 {
		t.Errorf("%d working boards, %d dead positions, %d dead links; want 1195, 5, 16",
			len(m.Boards), len(m.DeadBoardPositions), len(m.DeadLinks))
	}
	if len(m.BMPs) != 50 {
		t.Errorf("%d BMPs, want 50 (10 cabinets x 5 frames)", len(m.BMPs))
	}
	if cfg.BMP.PowerOnRate != 24 {
		t.Errorf("power_on_rate %v, want 24", cfg.BMP.PowerOnRate)
	}
}

// TestExampleCSVMatchesGenerator keeps the committed CSV equal to what the
// generator writes; run with -update to rewrite it.
func TestExampleCSVMatchesGenerator(t *testing.T) {
	var want bytes.Buffer
	if err := spinnergen.WriteCSV(&want, spinnergen.Rows(20, 20)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(examplesDir, "spinnaker-1200-ethernet-chips.csv")
	if *update {
		if err := os.WriteFile(path, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s differs from the generator's output; run go test ./service/config -run TestExampleCSV -update", path)
	}
}

// TestExampleCSVPositions checks the loader puts every board where the
// generator's layout says.
func TestExampleCSVPositions(t *testing.T) {
	m := loadExample(t, "spinnaker-1200.toml").Machines[0]
	for _, p := range slices.Concat(m.Boards, m.DeadBoardPositions) {
		c, f, n := spinnergen.Layout(p.Board)
		if p.Cabinet != c || p.Frame != f || p.BoardNum != n {
			t.Fatalf("board %v at (%d, %d, %d), want (%d, %d, %d)", p.Board, p.Cabinet, p.Frame, p.BoardNum, c, f, n)
		}
	}
}

func TestExampleDemoIsTheBuiltInDemo(t *testing.T) {
	file, err := os.ReadFile(filepath.Join(examplesDir, "demo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, DemoTOML()) {
		t.Error("examples/demo.toml differs from service/config/demo.toml (the embedded demo); keep them equal")
	}
}

func TestDemo(t *testing.T) {
	cfg := Demo()
	if cfg.Server.Listen != "127.0.0.1:22244" || cfg.Server.HTTP != "127.0.0.1:22245" || cfg.Server.Database != "spallocd-demo.db" {
		t.Errorf("server %+v, want 127.0.0.1:22244, 127.0.0.1:22245, spallocd-demo.db", cfg.Server)
	}
	if len(cfg.Machines) != 2 {
		t.Fatalf("%d machines, want 2", len(cfg.Machines))
	}
	big, one := cfg.Machine("demo-4x2"), cfg.Machine("demo-board")
	if big == nil || one == nil {
		t.Fatalf("machines %v, want demo-4x2 and demo-board", cfg.Machines)
	}
	if big.Width != 4 || big.Height != 2 || len(big.DeadBoards) != 1 || len(big.DeadLinks) != 1 || len(big.Boards) != 23 {
		t.Errorf("demo-4x2 is %dx%d with %d dead boards, %d dead links, %d boards; want 4x2, 1, 1, 23",
			big.Width, big.Height, len(big.DeadBoards), len(big.DeadLinks), len(big.Boards))
	}
	want := FakeBMP{PowerDelay: 200 * time.Millisecond, LinkDelay: 20 * time.Millisecond}
	for _, m := range []*Machine{big, one} {
		if m.FakeBMP == nil || *m.FakeBMP != want {
			t.Errorf("machine %s fake BMP %+v, want %+v", m.Name, m.FakeBMP, want)
		}
	}
	if len(one.Boards) != 1 || one.Width != 1 {
		t.Errorf("demo-board %+v, want a single board", one)
	}
}

func TestScenarioOfTheTranscripts(t *testing.T) {
	cfg, err := Load("testdata/scenario.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.KeepaliveCheckInterval != 500*time.Millisecond || cfg.Server.FreeDelay != 0 || cfg.Server.RetainDestroyed != 0 {
		t.Errorf("server %+v, want keepalive check 500ms, no free delay, retain all", cfg.Server)
	}
	var names []string
	for _, m := range cfg.Machines {
		names = append(names, m.Name)
		if m.FakeBMP == nil {
			t.Errorf("machine %s has no fake BMP", m.Name)
		}
	}
	if !slices.Equal(names, []string{"spinn-4x2", "m3", "board-a"}) {
		t.Fatalf("machines %v, want spinn-4x2, m3, board-a in that order", names)
	}
	m := cfg.Machines[0]
	if want := []geometry.Board{board(1, 0, 1), board(3, 1, 2)}; !slices.Equal(m.DeadBoards, want) {
		t.Errorf("dead boards %v, want %v", m.DeadBoards, want)
	}
	if want := []DeadLink{{board(0, 0, 0), geometry.North}}; !slices.Equal(m.DeadLinks, want) {
		t.Errorf("dead links %v, want %v", m.DeadLinks, want)
	}
	if want := []BMP{{0, 0, "10.2.0.0"}, {0, 1, "10.2.1.0"}}; !slices.Equal(m.BMPs, want) {
		t.Errorf("BMPs %v, want %v", m.BMPs, want)
	}
	if len(m.Boards) != 22 {
		t.Errorf("%d boards, want 22", len(m.Boards))
	}
	if p := m.Boards[6]; p.Board != board(1, 0, 0) || p.IP != "10.2.0.25" {
		t.Errorf("7th board %+v, want (1, 0, 0) at 10.2.0.25 (cabinet 0, frame 0, board 3)", p)
	}
	if tags := cfg.Machines[2].Tags; !slices.Equal(tags, []string{"single"}) {
		t.Errorf("board-a tags %v, want [single]", tags)
	}
}
