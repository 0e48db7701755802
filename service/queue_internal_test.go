package service

import (
	"slices"
	"testing"
)

func TestSortedDiff(t *testing.T) {
	tests := []struct {
		before, after, added, removed []int64
	}{
		{nil, nil, nil, nil},
		{nil, []int64{1, 2}, []int64{1, 2}, nil},
		{[]int64{1, 2}, nil, nil, []int64{1, 2}},
		{[]int64{1, 3, 5}, []int64{1, 3, 5}, nil, nil},
		{[]int64{1, 3, 5}, []int64{2, 3, 6}, []int64{2, 6}, []int64{1, 5}},
		{[]int64{4}, []int64{1, 2, 3, 4, 9}, []int64{1, 2, 3, 9}, nil},
	}
	for _, tc := range tests {
		added, removed := sortedDiff(tc.before, tc.after)
		if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
			t.Errorf("sortedDiff(%v, %v) = %v, %v; want %v, %v", tc.before, tc.after, added, removed, tc.added, tc.removed)
		}
	}
}
