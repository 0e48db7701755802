package allocator

import (
	"strings"
	"testing"
)

func TestWhy(t *testing.T) {
	m := mustMachine(t, 2, 1, []B{bd(1, 0, 0)})
	occ := NewOccupancy(m)
	held, _ := place(t, m, occ, RectRequest(1, 1)) // takes triad 0
	occ.Set(m, []B{bd(1, 0, 2)}, Unavailable)
	cases := []struct {
		r    Request
		want string
	}{
		{OneBoardRequest(), ""},
		{RectRequest(0, 1), "Cannot get negative- or zero-sized allocations."},
		{RectRequest(3, 1), "can ever satisfy"},
		{SpecificBoardRequest(bd(1, 0, 2)), "out of service"},
		{SpecificBoardRequest(held.Boards[0]), "in use (held-block)"},
		{RectRequest(2, 1), "no free region of 2×1 triads"},
		{RectRequest(1, 1), "1 free region of 1×1 triads, none with enough"}, // triad 1: dead bottom-left
		{mdb(NBoardsRequest(2), 0), "1 free region of at least 1 triads, none"},
		{mdb(NBoardsRequest(4), 0), "no free region of at least 2 triads"},
	}
	for _, c := range cases {
		got := Why(m, occ, c.r)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("Why(%s) = %q, want %q", name(c.r), got, c.want)
		}
	}
	// Free the block: triad 0 is open, triad 1 has a dead bottom-left.
	occ.Release(m, held)
	occ.Set(m, []B{bd(0, 0, 0)}, Unavailable)
	if got := Why(m, occ, RectRequest(1, 1)); !strings.Contains(got, "2 free regions of 1×1 triads, none with enough") {
		t.Errorf("Why = %q", got)
	}
	occ.Set(m, []B{bd(0, 0, 1), bd(0, 0, 2), bd(1, 0, 1)}, HeldSingle)
	if got := Why(m, occ, OneBoardRequest()); !strings.Contains(got, "every working board") {
		t.Errorf("Why(one board) = %q", got)
	}
	// n boards the machine can never offer: it says how many it waits for.
	m2 := mustMachine(t, 2, 1, []B{bd(1, 0, 1)})
	occ2 := NewOccupancy(m2)
	place(t, m2, occ2, RectRequest(1, 1))
	if got := Why(m2, occ2, NBoardsRequest(6)); !strings.Contains(got, "never offer 6 working, connected boards, it waits for the most it can: 5; no free region") {
		t.Errorf("Why(6 of 5) = %q", got)
	}
	occ.Set(m, []B{bd(0, 0, 1)}, Free)
	occ.Set(m, []B{bd(0, 0, 2)}, HeldBlock)
	if got := Why(m, occ, SpecificBoardRequest(bd(0, 0, 1))); !strings.Contains(got, "triad held by a block") {
		t.Errorf("Why(specific) = %q", got)
	}
}
