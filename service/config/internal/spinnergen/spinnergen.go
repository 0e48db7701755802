// Package spinnergen writes SpiNNer-style "ethernet chips" CSVs for example
// machines (examples/spinnaker-1200-ethernet-chips.csv). It is a test helper
// of service/config: the config tests regenerate the committed CSV and fail
// when it differs (go test ./service/config -run TestExampleCSV -update
// rewrites it).
//
// The layout is simple and plausible, not SpiNNer's folded one: cabinets hold
// two columns of triads, frames four rows of a cabinet's columns, so a frame
// holds 8 triads = 24 boards (slots 0..23) as in the real SpiNNaker-1M.
package spinnergen

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/spalloc/spallocd/service/geometry"
)

// Row is one board: its physical slot and its Ethernet chip.
type Row struct {
	Cabinet, Frame, Board int
	X, Y                  int
}

// Layout places a board in a cabinet, frame and slot.
func Layout(b geometry.Board) (cabinet, frame, board int) {
	return b.X / 2, b.Y / 4, 3*(2*(b.Y%4)+b.X%2) + b.Z
}

// Rows lists every board of a w x h-triad machine, ordered by slot.
func Rows(w, h int) []Row {
	rows := make([]Row, 0, 3*w*h)
	for x := range w {
		for y := range h {
			for z := range 3 {
				b := geometry.Board{X: x, Y: y, Z: z}
				c, f, n := Layout(b)
				cx, cy := geometry.BoardToChip(b)
				rows = append(rows, Row{Cabinet: c, Frame: f, Board: n, X: cx, Y: cy})
			}
		}
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Cabinet, b.Cabinet), cmp.Compare(a.Frame, b.Frame), cmp.Compare(a.Board, b.Board))
	})
	return rows
}

// WriteCSV writes rows with the header cabinet,frame,board,x,y.
func WriteCSV(w io.Writer, rows []Row) error {
	if _, err := fmt.Fprintln(w, "cabinet,frame,board,x,y"); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%d,%d,%d,%d,%d\n", r.Cabinet, r.Frame, r.Board, r.X, r.Y); err != nil {
			return err
		}
	}
	return nil
}
