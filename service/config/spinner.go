package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SpinnerRow is one board of a SpiNNer "spinner-ethernet-chips" CSV: its
// physical slot and the coordinates of its Ethernet chip.
type SpinnerRow struct {
	Line                  int // line in the file, for messages
	Cabinet, Frame, Board int
	X, Y                  int // Ethernet chip
}

// spinnerColumns are the columns a SpiNNer CSV must have, in any order.
var spinnerColumns = []string{"cabinet", "frame", "board", "x", "y"}

// maxCSVErrors bounds how many bad lines one error lists.
const maxCSVErrors = 10

// ReadSpinnerCSV reads a SpiNNer CSV: a header naming the columns cabinet,
// frame, board, x and y (any order, extra columns ignored), then one board
// per line. Lines starting with '#' are comments. Errors name the file (name)
// and line; all bad lines are reported (up to a limit).
func ReadSpinnerCSV(r io.Reader, name string) ([]SpinnerRow, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1 // checked per line below, for a clearer message
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: expected a header line %q", name, strings.Join(spinnerColumns, ","))
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	cols, err := spinnerHeader(header)
	if err != nil {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("%s:%d: %v", name, line, err)
	}
	return readSpinnerRows(cr, name, cols, len(header))
}

func readSpinnerRows(cr *csv.Reader, name string, cols [5]int, width int) ([]SpinnerRow, error) {
	var rows []SpinnerRow
	var errs []error
	for len(errs) < maxCSVErrors {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, csvError(name, err)) // bad quoting; the reader goes on at the next line
			continue
		}
		line, _ := cr.FieldPos(0)
		row, err := spinnerRow(record, cols, width)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, line, err))
			continue
		}
		row.Line = line
		rows = append(rows, row)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rows, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// spinnerHeader finds each required column's index in the header.
func spinnerHeader(header []string) ([5]int, error) {
	var cols [5]int
	for i, want := range spinnerColumns {
		cols[i] = -1
		for j, got := range header {
			if !strings.EqualFold(strings.TrimSpace(got), want) {
				continue
			}
			if cols[i] >= 0 {
				return cols, fmt.Errorf("header names column %q twice", want)
			}
			cols[i] = j
		}
		if cols[i] < 0 {
			return cols, fmt.Errorf("header %q lacks column %q (want %s)",
				strings.Join(header, ","), want, strings.Join(spinnerColumns, ","))
		}
	}
	return cols, nil
}

func spinnerRow(record []string, cols [5]int, width int) (SpinnerRow, error) {
	if len(record) != width {
		return SpinnerRow{}, fmt.Errorf("%d fields, but the header has %d", len(record), width)
	}
	var v [5]int
	for i, col := range cols {
		text := strings.TrimSpace(record[col])
		n, err := strconv.Atoi(text)
		if err != nil || n < 0 || n > maxCoordinate {
			return SpinnerRow{}, fmt.Errorf("%s %q is not a whole number from 0 to %d", spinnerColumns[i], text, maxCoordinate)
		}
		v[i] = n
	}
	return SpinnerRow{Cabinet: v[0], Frame: v[1], Board: v[2], X: v[3], Y: v[4]}, nil
}
