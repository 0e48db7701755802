package testutil

import (
	"fmt"
	"strings"

	"github.com/spalloc/spallocd/service/geometry"
)

// Grid describes a W x H-triad test machine for GridTOML (the tests call
// them grid(W,H)), with the dead boards and links a test needs.
type Grid struct {
	Name          string
	Width, Height int      // triads
	Tags          []string // nil: the default (["default"]); empty: no tags
	Scale         int      // board (x,y,z) sits at cabinet Scale·x, frame Scale·y, board Scale·z; 0 = 1
	BMPPrefix     string   // BMP of (c, f) is BMPPrefix.c.f; default "10.1"
	BoardPrefix   string   // board (x, y, z) is BoardPrefix.x.y.z; default "11"
	DeadBoards    []geometry.Board
	DeadLinks     []DeadLinkSpec
	// PositionDeadBoards lists dead boards' positions and addresses too (as
	// SpiNNer CSVs do), so that marking a board dead is a minor change.
	PositionDeadBoards bool
	Extra              string // more TOML lines for the [[machine]] table
}

// DeadLinkSpec is a dead link for a Grid.
type DeadLinkSpec struct {
	Board geometry.Board
	Link  geometry.Link
}

// GridTOML renders one [[machine]] table in the explicit form (bmps +
// boards with addresses). Dead boards get no position unless
// PositionDeadBoards is set.
func GridTOML(g Grid) string {
	scale, bmpPrefix, boardPrefix := g.Scale, g.BMPPrefix, g.BoardPrefix
	if scale == 0 {
		scale = 1
	}
	if bmpPrefix == "" {
		bmpPrefix = "10.1"
	}
	if boardPrefix == "" {
		boardPrefix = "11"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "[[machine]]\nname = %q\nwidth = %d\nheight = %d\n", g.Name, g.Width, g.Height)
	if g.Tags != nil {
		fmt.Fprintf(&sb, "tags = [%s]\n", quoteAll(g.Tags))
	}
	writeDead(&sb, g)
	frames := map[[2]int]bool{}
	sb.WriteString("boards = [\n")
	for x := 0; x < g.Width; x++ {
		for y := 0; y < g.Height; y++ {
			for z := 0; z < 3; z++ {
				if !g.PositionDeadBoards && isDead(g, geometry.Board{X: x, Y: y, Z: z}) {
					continue
				}
				frames[[2]int{scale * x, scale * y}] = true
				fmt.Fprintf(&sb, "  { xyz = [%d, %d, %d], cfb = [%d, %d, %d], ip = \"%s.%d.%d.%d\" },\n",
					x, y, z, scale*x, scale*y, scale*z, boardPrefix, x, y, z)
			}
		}
	}
	sb.WriteString("]\nbmps = [\n")
	for x := 0; x < g.Width; x++ {
		for y := 0; y < g.Height; y++ {
			if frames[[2]int{scale * x, scale * y}] {
				fmt.Fprintf(&sb, "  { cf = [%d, %d], ip = \"%s.%d.%d\" },\n", scale*x, scale*y, bmpPrefix, x, y)
			}
		}
	}
	sb.WriteString("]\n")
	sb.WriteString(g.Extra)
	return sb.String()
}

func writeDead(sb *strings.Builder, g Grid) {
	if len(g.DeadBoards) > 0 {
		parts := make([]string, len(g.DeadBoards))
		for i, b := range g.DeadBoards {
			parts[i] = fmt.Sprintf("[%d, %d, %d]", b.X, b.Y, b.Z)
		}
		fmt.Fprintf(sb, "dead_boards = [%s]\n", strings.Join(parts, ", "))
	}
	if len(g.DeadLinks) > 0 {
		parts := make([]string, len(g.DeadLinks))
		for i, l := range g.DeadLinks {
			parts[i] = fmt.Sprintf("[%d, %d, %d, %q]", l.Board.X, l.Board.Y, l.Board.Z, l.Link.String())
		}
		fmt.Fprintf(sb, "dead_links = [%s]\n", strings.Join(parts, ", "))
	}
}

func isDead(g Grid, b geometry.Board) bool {
	for _, d := range g.DeadBoards {
		if d == b {
			return true
		}
	}
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Grids renders several Grid machines; machine i without prefixes gets BMP
// prefix "10.<i+1>" and board prefix "<11+i>" so that addresses are unique
// across machines.
func Grids(gs ...Grid) string {
	var sb strings.Builder
	for i, g := range gs {
		if g.BMPPrefix == "" {
			g.BMPPrefix = fmt.Sprintf("10.%d", i+1)
		}
		if g.BoardPrefix == "" {
			g.BoardPrefix = fmt.Sprintf("%d", 11+i)
		}
		sb.WriteString(GridTOML(g))
		sb.WriteString("\n")
	}
	return sb.String()
}
