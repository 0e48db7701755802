package geometry

import "testing"

func TestLinkNumberingAndOpposites(t *testing.T) { // docs/geometry.md, "Board links" and "Chip links"
	cases := []struct {
		l        Link
		value    int
		name     string
		opposite Link
		dx, dy   int
	}{
		{East, 0, "east", West, 1, 0},
		{NorthEast, 1, "north_east", SouthWest, 1, 1},
		{North, 2, "north", South, 0, 1},
		{West, 3, "west", East, -1, 0},
		{SouthWest, 4, "south_west", NorthEast, -1, -1},
		{South, 5, "south", North, 0, -1},
	}
	for _, c := range cases {
		if int(c.l) != c.value {
			t.Errorf("%v has value %d, want %d", c.l, int(c.l), c.value)
		}
		if c.l.String() != c.name {
			t.Errorf("link %d named %q, want %q", c.value, c.l.String(), c.name)
		}
		if c.l.Opposite() != c.opposite {
			t.Errorf("%v.Opposite() = %v, want %v", c.l, c.l.Opposite(), c.opposite)
		}
		if dx, dy := c.l.Vector(); dx != c.dx || dy != c.dy {
			t.Errorf("%v.Vector() = (%d, %d), want (%d, %d)", c.l, dx, dy, c.dx, c.dy)
		}
		got, err := ParseLink(c.name)
		if err != nil || got != c.l {
			t.Errorf("ParseLink(%q) = %v, %v; want %v", c.name, got, err, c.l)
		}
		if AllLinks[c.value] != c.l {
			t.Errorf("AllLinks[%d] = %v, want %v", c.value, AllLinks[c.value], c.l)
		}
	}
}

func TestParseLinkRejectsUnknownNames(t *testing.T) {
	for _, s := range []string{"", "up", "northeast", "6", "E"} {
		if l, err := ParseLink(s); err == nil {
			t.Errorf("ParseLink(%q) = %v, want an error", s, l)
		}
	}
	for _, s := range []string{"North-East", " SOUTH_WEST "} {
		if _, err := ParseLink(s); err != nil {
			t.Errorf("ParseLink(%q): %v", s, err)
		}
	}
}

func TestLinkText(t *testing.T) {
	var l Link
	if err := l.UnmarshalText([]byte("south_west")); err != nil || l != SouthWest {
		t.Fatalf("UnmarshalText(south_west) = %v, %v", l, err)
	}
	if b, err := North.MarshalText(); err != nil || string(b) != "north" {
		t.Fatalf("MarshalText(North) = %q, %v", b, err)
	}
	if _, err := Link(9).MarshalText(); err == nil {
		t.Fatal("MarshalText of an invalid link succeeded")
	}
	if Link(-1).String() != "Link(-1)" || Link(-1).Opposite().Valid() != true {
		t.Fatalf("invalid link handling: %q", Link(-1).String())
	}
}

func TestFromVector(t *testing.T) { // docs/geometry.md, "Chip links"
	cases := []struct {
		dx, dy int
		want   Link
	}{
		{1, 0, East}, {-1, 0, West}, {0, 1, North}, {0, -1, South},
		{1, 1, NorthEast}, {-1, -1, SouthWest}, {1, -1, SouthWest}, {-1, 1, NorthEast},
		{-3, 0, East}, {3, 0, West}, {0, -7, North}, {5, 5, SouthWest},
		{-2, -2, NorthEast}, {2, -1, SouthWest},
	}
	for _, c := range cases {
		got, err := FromVector(c.dx, c.dy)
		if err != nil || got != c.want {
			t.Errorf("FromVector(%d, %d) = %v, %v; want %v", c.dx, c.dy, got, err, c.want)
		}
	}
	if l, err := FromVector(0, 0); err == nil {
		t.Errorf("FromVector(0, 0) = %v, want an error", l)
	}
}
