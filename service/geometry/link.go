package geometry

import (
	"fmt"
	"strings"
)

// Link names one of the six directions leaving a board (or a chip). The
// integer values are the wire values used in configuration, the v1 protocol
// (list_machines dead_links) and the BMP register table.
type Link int

// The six link directions (docs/geometry.md, "Board links").
const (
	East Link = iota
	NorthEast
	North
	West
	SouthWest
	South
)

// NumLinks is the number of link directions of a board or chip.
const NumLinks = 6

// AllLinks lists every link in wire order (East first).
var AllLinks = [NumLinks]Link{East, NorthEast, North, West, SouthWest, South}

var linkNames = [NumLinks]string{"east", "north_east", "north", "west", "south_west", "south"}

// Valid reports whether l is one of the six defined links.
func (l Link) Valid() bool { return l >= 0 && l < NumLinks }

// Opposite returns the link pointing the other way: (l + 3) mod 6.
func (l Link) Opposite() Link { return Link(Mod(int(l)+3, NumLinks)) }

// String returns the wire name ("east", "north_east", ...), or "Link(n)" for
// an undefined value.
func (l Link) String() string {
	if !l.Valid() {
		return fmt.Sprintf("Link(%d)", int(l))
	}
	return linkNames[l]
}

// ParseLink converts a wire name ("north_east") to a Link. Matching is
// case-insensitive and accepts "-" or " " for "_"; anything else is an error
// that lists the valid names.
func ParseLink(s string) (Link, error) {
	norm := strings.ToLower(strings.TrimSpace(s))
	norm = strings.NewReplacer("-", "_", " ", "_").Replace(norm)
	for i, name := range linkNames {
		if norm == name {
			return Link(i), nil
		}
	}
	return 0, fmt.Errorf("unknown link %q: want one of %s", s, strings.Join(linkNames[:], ", "))
}

// MarshalText encodes a link as its wire name.
func (l Link) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("cannot encode invalid link %d", int(l))
	}
	return []byte(linkNames[l]), nil
}

// UnmarshalText decodes a wire name (see ParseLink).
func (l *Link) UnmarshalText(b []byte) error {
	v, err := ParseLink(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// chipVectors are the chip-level link vectors (docs/geometry.md, "Chip links").
var chipVectors = [NumLinks][2]int{{1, 0}, {1, 1}, {0, 1}, {-1, 0}, {-1, -1}, {0, -1}}

// Vector returns the chip-level displacement (dx, dy) of following l between
// chips (docs/geometry.md, "Chip links"). It returns (0, 0) for an invalid link. Board-level
// link displacements are a different thing: see BoardLinkVector.
func (l Link) Vector() (dx, dy int) {
	if !l.Valid() {
		return 0, 0
	}
	return chipVectors[l][0], chipVectors[l][1]
}

// FromVector converts a chip-level displacement to a link, like rig's
// Links.from_vector: a component of magnitude above 1 is taken to be a
// wrap-around and replaced by minus its sign; (1, -1) is south_west and
// (-1, 1) north_east (the convention for 2×N and N×2 systems). Anything else
// (e.g. (0, 0)) is an error.
func FromVector(dx, dy int) (Link, error) {
	ndx, ndy := unwrapComponent(dx), unwrapComponent(dy)
	for i, v := range chipVectors {
		if v[0] == ndx && v[1] == ndy {
			return Link(i), nil
		}
	}
	switch {
	case ndx == 1 && ndy == -1:
		return SouthWest, nil
	case ndx == -1 && ndy == 1:
		return NorthEast, nil
	}
	return 0, fmt.Errorf("vector (%d, %d) is not a link direction", dx, dy)
}

// unwrapComponent maps a vector component that went the long way round a
// torus back to a unit step: -3 -> +1, 7 -> -1.
func unwrapComponent(v int) int {
	switch {
	case v > 1:
		return -1
	case v < -1:
		return 1
	}
	return v
}
