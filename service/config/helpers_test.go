package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

// testFile is the name the tests give their configurations; messages must
// name it.
const testFile = "spinn-test.toml"

// singleBoard is a machine for tests about other parts of a file (a file
// given to Load needs one).
const singleBoard = "[[machine]]\nname = \"one\"\nsingle_board = { bmp_ip = \"10.0.0.0\", spinnaker_ip = \"10.0.0.1\" }\n"

// explicitMachine writes a [[machine]] in the explicit form: w x h triads,
// board (x, y, z) in cabinet 0, frame y, slot 3x + z with address
// "<prefix>x.y.z", one BMP per frame "<prefix>bmp.y". Boards in skip get no
// entry; extra lines are added to the table.
func explicitMachine(name, prefix string, w, h int, skip []geometry.Board, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[machine]]\nname = %q\n", name)
	for _, line := range extra {
		b.WriteString(line + "\n")
	}
	b.WriteString("bmps = [")
	for y := range h {
		fmt.Fprintf(&b, "{ cf = [0, %d], ip = \"%sbmp.%d\" }, ", y, prefix, y)
	}
	b.WriteString("]\nboards = [\n")
	for x := range w {
		for y := range h {
			for z := range 3 {
				bd := geometry.Board{X: x, Y: y, Z: z}
				if containsBoard(skip, bd) {
					continue
				}
				fmt.Fprintf(&b, "  { xyz = [%d, %d, %d], cfb = [0, %d, %d], ip = \"%s%d.%d.%d\" },\n",
					x, y, z, y, 3*x+z, prefix, x, y, z)
			}
		}
	}
	b.WriteString("]\n")
	return b.String()
}

func containsBoard(list []geometry.Board, b geometry.Board) bool {
	for _, e := range list {
		if e == b {
			return true
		}
	}
	return false
}

// writeFile creates a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErrorContaining fails unless err mentions every fragment.
func wantErrorContaining(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not mention %q:\n%v", f, err)
		}
	}
}

func board(x, y, z int) geometry.Board { return geometry.Board{X: x, Y: y, Z: z} }

func readText(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}
