package service

import "testing"

func TestPackOpRefusesWhatDoesNotFit(t *testing.T) {
	tests := []struct {
		op   op
		want int64 // -1: refused
	}{
		{op{boardID: 7, bmpID: 3}, 7 | 3<<32},
		{op{boardID: 1<<32 - 1, bmpID: 1<<24 - 1, links: 63}, 1<<32 - 1 | (1<<24-1)<<32 | 63<<56},
		{op{boardID: 1 << 32, bmpID: 1}, -1},
		{op{boardID: 1, bmpID: 1 << 24}, -1},
		{op{boardID: 1, bmpID: 1, links: 64}, -1},
		{op{boardID: 0, bmpID: 1}, -1},
	}
	for _, tc := range tests {
		got, err := packOp(&tc.op)
		if (err != nil) != (tc.want == -1) || (err == nil && got != tc.want) {
			t.Errorf("packOp(board %d, BMP %d, links %d) = %d, %v; want %d", tc.op.boardID, tc.op.bmpID, tc.op.links, got, err, tc.want)
		}
	}
}
