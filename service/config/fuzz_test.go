package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

// FuzzParse feeds arbitrary files to Parse: it must never panic, every
// failure must be a described *Error, and every success must hold what the
// rest of the server relies on. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir() // relative spinner_csv and token paths land here
		cfg, err := Parse(data, filepath.Join(dir, "fuzz.toml"))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Msg == "" {
				t.Fatalf("error %q is not a described *Error", err)
			}
			return
		}
		for i := range cfg.Machines {
			checkMachineInvariants(t, &cfg.Machines[i])
		}
		checkPolicyInvariants(t, cfg)
	})
}

// checkPolicyInvariants verifies the limits and tokens of a loaded file: no
// negative limit, token names usable and unique.
func checkPolicyInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	p := cfg.Policy
	if p.MaxKeepalive < 0 || p.MaxJobDuration < 0 || p.MaxLiveJobsPerOwner < 0 || p.MaxBoardsPerOwner < 0 ||
		p.MaxQueuedJobsPerOwner < 0 || p.SickBoardReports < 0 || p.SickBoardWindow <= 0 {
		t.Fatalf("policy %+v has a negative limit", p)
	}
	names := map[string]bool{}
	for _, tok := range cfg.AdminTokens {
		if !tokenName.MatchString(tok.Name) || names[tok.Name] || tok.Name == ServerActorName {
			t.Fatalf("admin token name %q is unusable or repeated", tok.Name)
		}
		names[tok.Name] = true
	}
}

// checkMachineInvariants verifies a loaded machine: every board inside and
// placed once, one slot per board, an IP per working board, a BMP for every
// working board's frame, and dead boards and links inside.
func checkMachineInvariants(t *testing.T, m *Machine) {
	t.Helper()
	if m.Width < 1 || m.Height < 1 || m.Width > maxTriads || m.Height > maxTriads {
		t.Fatalf("machine %q has size %dx%d", m.Name, m.Width, m.Height)
	}
	bmps := map[[2]int]bool{}
	for _, b := range m.BMPs {
		bmps[[2]int{b.Cabinet, b.Frame}] = true
	}
	seen := map[geometry.Board]bool{}
	slots := map[[3]int]bool{}
	for _, p := range append(append([]BoardPos{}, m.Boards...), m.DeadBoardPositions...) {
		slot := [3]int{p.Cabinet, p.Frame, p.BoardNum}
		if !p.Board.InMachine(m.Width, m.Height) || seen[p.Board] || slots[slot] {
			t.Fatalf("machine %q: board %v at %v is outside or repeated", m.Name, p.Board, slot)
		}
		seen[p.Board], slots[slot] = true, true
	}
	for _, p := range m.Boards {
		if p.IP == "" || !bmps[[2]int{p.Cabinet, p.Frame}] {
			t.Fatalf("machine %q: working board %v has no IP or no BMP", m.Name, p.Board)
		}
	}
	for _, d := range m.DeadBoards {
		if !d.InMachine(m.Width, m.Height) {
			t.Fatalf("machine %q: dead board %v outside", m.Name, d)
		}
	}
	for _, d := range m.DeadLinks {
		if !d.Board.InMachine(m.Width, m.Height) || !d.Link.Valid() {
			t.Fatalf("machine %q: dead link %v outside", m.Name, d)
		}
	}
	if want := 3*m.Width*m.Height - len(m.DeadBoards); len(m.Boards) != want {
		t.Fatalf("machine %q: %d working boards, want %d", m.Name, len(m.Boards), want)
	}
}

// FuzzSpinnerCSV feeds arbitrary CSVs to ReadSpinnerCSV and, through a
// machine that uses them, to the chip-to-board conversion. Seeds:
// testdata/fuzz/FuzzSpinnerCSV.
func FuzzSpinnerCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadSpinnerCSV(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			if !bytes.Contains([]byte(err.Error()), []byte("fuzz.csv")) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range rows {
			if r.Line < 1 || r.Cabinet < 0 || r.Frame < 0 || r.Board < 0 || r.X < 0 || r.Y < 0 {
				t.Fatalf("row %+v has impossible values", r)
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "chips.csv"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("[[machine]]\nname = \"sp\"\nstandard_ips = {}\nspinner_csv = %q\n", "chips.csv")
		cfg, err := Parse([]byte(text), filepath.Join(dir, "c.toml"))
		if err == nil {
			checkMachineInvariants(t, &cfg.Machines[0])
		}
	})
}
