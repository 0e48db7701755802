package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// Change classifies how a machine differs between two configurations
// (docs/configuration.md, "What a reload changes").
type Change int

const (
	// Unchanged: nothing to do.
	Unchanged Change = iota
	// MinorChange: only tags, dead boards or dead links differ; running jobs
	// keep their boards, new allocations see the new values.
	MinorChange
	// MajorChange: size, positions, addresses or BMPs differ; the machine's
	// jobs are destroyed and it is re-created.
	MajorChange
)

func (c Change) String() string {
	switch c {
	case Unchanged:
		return "unchanged"
	case MinorChange:
		return "minor"
	case MajorChange:
		return "major"
	}
	return fmt.Sprintf("Change(%d)", int(c))
}

// Compare says how a machine of the same name changed from old to new.
func Compare(old, new *Machine) Change {
	switch {
	case old.MajorFingerprint() != new.MajorFingerprint():
		return MajorChange
	case old.MinorFingerprint() != new.MinorFingerprint():
		return MinorChange
	}
	return Unchanged
}

// MajorFingerprint is a digest of everything that fixes the machine's
// layout: size, BMPs, the position and address of every board whose position
// is known (dead or alive, so that marking a board dead is not major), and
// the fake BMP settings. Equal machines give equal fingerprints, also across
// restarts (it may be stored).
func (m *Machine) MajorFingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "size %d %d\n", m.Width, m.Height)
	for _, b := range m.BMPs {
		fmt.Fprintf(h, "bmp %d %d %q\n", b.Cabinet, b.Frame, b.Address)
	}
	boards := slices.Concat(m.Boards, m.DeadBoardPositions)
	slices.SortFunc(boards, compareBoardPos)
	for _, p := range boards {
		fmt.Fprintf(h, "board %d %d %d at %d %d %d ip %q\n",
			p.Board.X, p.Board.Y, p.Board.Z, p.Cabinet, p.Frame, p.BoardNum, p.IP)
	}
	if m.FakeBMP != nil {
		fmt.Fprintf(h, "fake %d %d\n", m.FakeBMP.PowerDelay, m.FakeBMP.LinkDelay)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// MinorFingerprint is a digest of what may change under running jobs: tags
// (as a set), dead boards and dead links.
func (m *Machine) MinorFingerprint() string {
	h := sha256.New()
	tags := slices.Clone(m.Tags)
	slices.Sort(tags)
	fmt.Fprintf(h, "tags %q\n", slices.Compact(tags))
	dead := slices.Clone(m.DeadBoards)
	slices.SortFunc(dead, compareBoards)
	for _, b := range slices.Compact(dead) {
		fmt.Fprintf(h, "dead board %d %d %d\n", b.X, b.Y, b.Z)
	}
	links := slices.Clone(m.DeadLinks)
	slices.SortFunc(links, compareDeadLinks)
	for _, l := range slices.Compact(links) {
		fmt.Fprintf(h, "dead link %d %d %d %d\n", l.Board.X, l.Board.Y, l.Board.Z, int(l.Link))
	}
	return hex.EncodeToString(h.Sum(nil))
}
