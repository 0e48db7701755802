// Package allocator owns the SpiNNaker placement rules: which boards a job
// request may get on one machine, given the machine's dead boards and links
// and which boards are currently in use (docs/scheduling.md, "What a request
// may get" and "Choosing among legal placements"; cases AR, ALLOC and PLACE
// of docs/test-cases.md).
//
// It is pure: no SQL, no I/O, no goroutines, no clock; a Machine only
// remembers what it derives from itself (tables, MostBoards answers). The
// caller (package service) keeps the state — a Machine per configured
// machine and an Occupancy per machine rebuilt from the database — and asks:
//
//   - ValidateRequest: is the request well formed (exact user messages)?
//   - Feasible: could it ever be placed on this machine when empty?
//   - MostBoards: the most working boards it could ever get here (an
//     n-board request waits for n boards, or for this many when the
//     machine can never offer n).
//   - Place: where would it go now? (deterministic; the caller records it)
//   - PlaceAvoiding: the same, keeping out of a reserved Region;
//     ChooseRegion: which region to reserve for a blocked queue head
//     (the "reserve" scheduling policy).
//   - EvaluateBlock / SingleBoardAllocation: the legality rules of one given
//     block or board, for tests, tools and forced placements.
//
// Blocks are rectangles of whole triads that lie inside the machine. A
// block's boards are the working boards reachable from its bottom-left board
// (x0, y0, 0) through working links to boards inside the block (wrap-around
// links included where the block spans the whole machine). An n-board
// request gets at least n of them whenever some legal block of the empty
// machine holds n. Single-board jobs share triads: spare boards of triads
// already partly used by single-board jobs go first.
//
// It must not touch the database, the configuration files, the network or
// any other package of ours except service/geometry.
package allocator
