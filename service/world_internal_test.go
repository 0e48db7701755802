package service

import (
	"maps"
	"testing"
)

// A published idMap never changes: with returns a new map that shares the
// shards it does not touch.
func TestIDMapWithLeavesTheOriginalAlone(t *testing.T) {
	var empty idMap[string]
	a := empty.with(map[int64]string{1: "one", 2: "two", 65: "sixty-five", 70: "seventy"}, nil)
	b := a.with(map[int64]string{3: "three", 1: "uno"}, map[int64]bool{2: true, 99: true})
	want := func(x idMap[string], entries map[int64]string) {
		t.Helper()
		got := map[int64]string{}
		x.each(func(id int64, v string) { got[id] = v })
		if !maps.Equal(got, entries) || x.len() != len(entries) {
			t.Fatalf("map holds %v (len %d), want %v", got, x.len(), entries)
		}
		for id, v := range entries {
			if g, ok := x.get(id); !ok || g != v {
				t.Fatalf("get(%d) = %q, %v; want %q", id, g, ok, v)
			}
		}
	}
	want(empty, map[int64]string{})
	want(a, map[int64]string{1: "one", 2: "two", 65: "sixty-five", 70: "seventy"})
	want(b, map[int64]string{1: "uno", 3: "three", 65: "sixty-five", 70: "seventy"})
	if a.shards[6] != b.shards[6] { // 70 % 64: untouched
		t.Error("an untouched shard was copied")
	}
	if ids := b.keys(); len(ids) != 4 || ids[0] != 1 || ids[3] != 70 {
		t.Errorf("keys %v, want [1 3 65 70]", ids)
	}
}
