// Package geometry owns the SpiNN-5 coordinate arithmetic: chips, boards,
// triads, board-to-board links with wrap-around, chip-to-board conversion,
// Ethernet chips and the triad-to-chip size rule (docs/geometry.md).
//
// It is pure: no I/O, no state, no knowledge of dead boards, jobs or the
// database. Those belong to service/allocator, service/config and service.
//
// Conventions: every modulo is a floor modulo (see Mod), so
// negative chip coordinates wrap like Python's %. Board coordinates (x, y, z)
// are triad (x, y) and board z ∈ {0, 1, 2} of the triad. Functions never
// panic on bad input: those that can fail return an error, the rest document
// what they return for out-of-range values.
package geometry
