package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/service/geometry"
)

// confCase is one configuration and what loading it must give: an error
// mentioning every fragment of wantErr, or success checked by check.
type confCase struct {
	name    string
	toml    string
	wantErr []string
	check   func(t *testing.T, cfg *Config)
}

func runConfCases(t *testing.T, cases []confCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.toml), testFile)
			if len(tc.wantErr) > 0 {
				wantErrorContaining(t, err, append([]string{testFile + ":"}, tc.wantErr...)...)
				if cfg != nil {
					t.Error("a configuration came back with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

func TestConfMachineNamesAndAddresses(t *testing.T) {
	m := func(name, prefix string) string { return explicitMachine(name, prefix, 1, 1, nil) }
	runConfCases(t, []confCase{
		{name: "CONF-02 machine entries must be tables",
			toml:    "machine = [\"a\"]\n",
			wantErr: []string{":1:", "machine"}},
		{name: "CONF-03 names a, b, a rejected",
			toml:    m("a", "1.") + m("b", "2.") + m("a", "3."),
			wantErr: []string{`machine "a": name: machine name "a" is used more than once (machines #1 and #3)`}},
		{name: "CONF-03 names a, b accepted",
			toml: m("a", "1.") + m("b", "2."),
			check: func(t *testing.T, cfg *Config) {
				if got := []string{cfg.Machines[0].Name, cfg.Machines[1].Name}; !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("machines %v, want [a b] in file order", got)
				}
			}},
		{name: "CONF-04 BMP address shared by two machines",
			toml: strings.ReplaceAll(m("a", "a_"), "a_bmp.0", "bmp_a") +
				strings.ReplaceAll(m("b", "b_"), "b_bmp.0", "bmp_a"),
			wantErr: []string{`machine "b": bmps[0]: BMP address "bmp_a" of frame (cabinet 0, frame 0) is already used by the BMP of frame (cabinet 0, frame 0) of machine "a"`}},
		{name: "CONF-04 the default port does not make a different BMP",
			toml: strings.ReplaceAll(m("a", "a_"), "a_bmp.0", "10.0.0.1") +
				strings.ReplaceAll(m("b", "b_"), "b_bmp.0", "10.0.0.1:17893"),
			wantErr: []string{`machine "b": bmps[0]: BMP address "10.0.0.1:17893"`, `machine "a"`}},
		{name: "BMPs on one host with different ports are different BMPs",
			toml: strings.ReplaceAll(m("a", "a_"), "a_bmp.0", "127.0.0.1:5000") +
				strings.ReplaceAll(m("b", "b_"), "b_bmp.0", "127.0.0.1:5001")},
		{name: "CONF-05 board address shared by two machines",
			toml: strings.ReplaceAll(m("a", "a_"), "a_0.0.0", "spinn_a_0") +
				strings.ReplaceAll(m("b", "b_"), "b_0.0.2", "spinn_a_0"),
			wantErr: []string{`machine "b": boards[2]: SpiNNaker IP "spinn_a_0" of board (0, 0, 2) is already used by board (0, 0, 0) (boards[0]) of machine "a"`}},
		{name: "CONF-05 three boards of one machine with one address",
			toml: strings.NewReplacer(`"s0.0.0"`, `"same"`, `"s0.0.1"`, `"same"`, `"s0.0.2"`, `"same"`).
				Replace(m("m", "s")),
			wantErr: []string{
				`machine "m": boards[1]: SpiNNaker IP "same" of board (0, 0, 1) is already used by board (0, 0, 0) (boards[0])`,
				`machine "m": boards[2]: SpiNNaker IP "same" of board (0, 0, 2)`,
			}},
	})
}

func TestConfInsideTheMachine(t *testing.T) {
	outside := []string{"[2, 0, 0]", "[0, 1, 0]", "[0, 0, 3]", "[-1, 0, 0]"}
	outsideText := []string{"(2, 0, 0)", "(0, 1, 0)", "(0, 0, 3)", "(-1, 0, 0)"}
	var cases []confCase
	for i, xyz := range outside {
		cases = append(cases,
			confCase{name: "CONF-06 dead board " + xyz,
				toml: explicitMachine("m1", "", 2, 1, nil, "width = 2", "height = 1",
					"dead_boards = [[0, 0, 0], [1, 0, 0], "+xyz+"]"),
				wantErr: []string{`machine "m1": dead_boards[2]: board ` + outsideText[i] + ` is outside the 2x1-triad machine`}},
			confCase{name: "CONF-07 dead link from " + xyz,
				toml: explicitMachine("m1", "", 2, 1, nil, "width = 2", "height = 1",
					"dead_links = [[0, 0, 0, \"north\"], "+strings.TrimSuffix(xyz, "]")+", \"east\"]]"),
				wantErr: []string{`machine "m1": dead_links[1]: the link starts at board ` + outsideText[i] + `, which is outside the 2x1-triad machine`}},
			confCase{name: "CONF-08 position for " + xyz,
				toml: strings.Replace(explicitMachine("m1", "", 2, 1, nil, "width = 2", "height = 1"), "\n]\n",
					"\n  { xyz = "+xyz+", cfb = [1, 0, 0], ip = \"extra\" },\n]\n", 1),
				wantErr: []string{`machine "m1": boards[6]: position given for board ` + outsideText[i] + `, which is outside the 2x1-triad machine`}},
		)
	}
	cases = append(cases,
		confCase{name: "dead boards and links inside are kept, sorted",
			toml: explicitMachine("m1", "", 2, 1, nil, "width = 2", "height = 1",
				`dead_boards = [[1, 0, 2], [0, 0, 1]]`, `dead_links = [[1, 0, 0, "south"], [0, 0, 0, "north_east"]]`),
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Machines[0]
				if want := []geometry.Board{board(0, 0, 1), board(1, 0, 2)}; !slices.Equal(m.DeadBoards, want) {
					t.Errorf("dead boards %v, want %v", m.DeadBoards, want)
				}
				want := []DeadLink{{board(0, 0, 0), geometry.NorthEast}, {board(1, 0, 0), geometry.South}}
				if !slices.Equal(m.DeadLinks, want) {
					t.Errorf("dead links %v, want %v", m.DeadLinks, want)
				}
				if len(m.Boards) != 4 || len(m.DeadBoardPositions) != 2 {
					t.Errorf("%d working boards and %d dead positions, want 4 and 2", len(m.Boards), len(m.DeadBoardPositions))
				}
			}},
		confCase{name: "a dead link names a link",
			toml:    explicitMachine("m1", "", 1, 1, nil, `dead_links = [[0, 0, 0, "up"]]`),
			wantErr: []string{`machine "m1": dead_links[0]: unknown link "up"`, "north_east"}},
		confCase{name: "a dead link has four parts",
			toml:    explicitMachine("m1", "", 1, 1, nil, `dead_links = [[0, 0, "north"]]`),
			wantErr: []string{`machine "m1": dead_links[0]: want [x, y, z, "link name"]`}},
		confCase{name: "a dead board has three parts",
			toml:    explicitMachine("m1", "", 1, 1, nil, `dead_boards = [[0, 0]]`),
			wantErr: []string{`machine "m1": dead_boards[0]: want [x, y, z]`}},
		confCase{name: "a dead board listed twice",
			toml:    explicitMachine("m1", "", 1, 1, nil, `dead_boards = [[0, 0, 1], [0, 0, 1]]`),
			wantErr: []string{`machine "m1": dead_boards[1]: board (0, 0, 1) is already listed dead by dead_boards[0]`}},
	)
	runConfCases(t, cases)
}

func TestConfPositionsAndAddresses(t *testing.T) {
	twoByOne := func(skip []geometry.Board, extra ...string) string {
		return explicitMachine("m1", "", 2, 1, skip, append([]string{"width = 2", "height = 1"}, extra...)...)
	}
	runConfCases(t, []confCase{
		{name: "CONF-09 two boards in one slot",
			toml:    strings.Replace(twoByOne(nil), "cfb = [0, 0, 1]", "cfb = [0, 0, 0]", 1),
			wantErr: []string{`machine "m1": boards[1]: boards (0, 0, 0) and (0, 0, 1) are both placed in cabinet 0, frame 0, board 0 (also boards[0])`}},
		{name: "CONF-09 one board placed twice",
			toml: strings.Replace(twoByOne(nil), "\n]\n",
				"\n  { xyz = [0, 0, 0], cfb = [0, 0, 9], ip = \"again\" },\n]\n", 1),
			wantErr: []string{`machine "m1": boards[6]: board (0, 0, 0) already has a position, given by boards[0]`}},
		{name: "CONF-10 a board without position is fine while dead",
			toml: twoByOne([]geometry.Board{board(0, 0, 1)}, "dead_boards = [[0, 0, 1]]")},
		{name: "CONF-10 a live board without position is rejected",
			toml:    twoByOne([]geometry.Board{board(0, 0, 1)}),
			wantErr: []string{`machine "m1": boards: no position for live boards (0, 0, 1)`}},
		{name: "CONF-10 many missing boards are summarised",
			toml:    "[[machine]]\nname = \"big\"\nwidth = 5\nheight = 5\nbmps = []\nboards = []\n",
			wantErr: []string{`machine "big": boards: no position for live boards (0, 0, 0), (0, 0, 1)`, "and 65 more"}},
		{name: "CONF-11 a frame without BMP",
			toml:    strings.Replace(twoByOne(nil), `{ cf = [0, 0], ip = "bmp.0" }, `, "", 1),
			wantErr: []string{`machine "m1": bmps: no BMP for frames (cabinet 0, frame 0), which hold live boards`}},
		{name: "CONF-11 a frame with only dead boards needs no BMP",
			toml: strings.Replace(explicitMachine("m1", "", 1, 1, nil, `dead_boards = [[0, 0, 0], [0, 0, 1], [0, 0, 2]]`),
				`{ cf = [0, 0], ip = "bmp.0" }, `, "", 1)},
		{name: "CONF-11 a frame with two BMPs",
			toml:    strings.Replace(twoByOne(nil), `bmps = [`, `bmps = [{ cf = [0, 0], ip = "other" }, `, 1),
			wantErr: []string{`machine "m1": bmps[1]: frame (cabinet 0, frame 0) already has a BMP, given by bmps[0]`}},
		{name: "CONF-12 a live board without address",
			toml:    strings.Replace(twoByOne(nil), `, ip = "0.0.0"`, "", 1),
			wantErr: []string{`machine "m1": boards: no ip for live boards (0, 0, 0)`}},
		{name: "CONF-12 a dead board needs no address",
			toml: strings.Replace(twoByOne(nil, "dead_boards = [[0, 0, 0]]"), `, ip = "0.0.0"`, "", 1)},
		{name: "board address with a port",
			toml:    strings.Replace(twoByOne(nil), `"0.0.0"`, `"10.0.0.1:80"`, 1),
			wantErr: []string{`machine "m1": boards[0].ip: board address "10.0.0.1:80" must be a host name or IPv4 address without a port`}},
		{name: "BMP address with a bad port",
			toml:    strings.Replace(twoByOne(nil), `"bmp.0"`, `"10.0.0.1:0"`, 1),
			wantErr: []string{`machine "m1": bmps[0].ip: BMP address "10.0.0.1:0": the port must be a number from 1 to 65535`}},
		{name: "slot numbers beyond the BMP's 32 boards",
			toml:    strings.Replace(twoByOne(nil), "cfb = [0, 0, 5]", "cfb = [0, 0, 32]", 1),
			wantErr: []string{`machine "m1": boards[5]: board number 32 is not from 0 to 31`}},
		{name: "QUEUE-08 a machine with no working boards",
			toml: "[[machine]]\nname = \"empty\"\nwidth = 1\nheight = 1\ndead_boards = [[0, 0, 0], [0, 0, 1], [0, 0, 2]]\nbmps = []\nboards = []\n",
			check: func(t *testing.T, cfg *Config) {
				if m := cfg.Machines[0]; len(m.Boards) != 0 || len(m.BMPs) != 0 || len(m.DeadBoards) != 3 {
					t.Errorf("machine %+v, want no boards, no BMPs, 3 dead boards", m)
				}
			}},
		{name: "explicit form keeps addresses as written",
			toml: strings.Replace(explicitMachine("m1", "", 1, 1, nil), `"bmp.0"`, `"10.0.0.1:5000"`, 1),
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Machines[0]
				if want := []BMP{{0, 0, "10.0.0.1:5000"}}; !slices.Equal(m.BMPs, want) {
					t.Errorf("BMPs %v, want %v", m.BMPs, want)
				}
				want := []BoardPos{
					{board(0, 0, 0), 0, 0, 0, "0.0.0"}, {board(0, 0, 1), 0, 0, 1, "0.0.1"}, {board(0, 0, 2), 0, 0, 2, "0.0.2"},
				}
				if !slices.Equal(m.Boards, want) {
					t.Errorf("boards %v, want %v", m.Boards, want)
				}
			}},
	})
}

func TestConfSize(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "CONF-13 size inferred from positions",
			toml: explicitMachine("m1", "", 2, 1, nil),
			check: func(t *testing.T, cfg *Config) {
				if m := cfg.Machines[0]; m.Width != 2 || m.Height != 1 {
					t.Errorf("size %dx%d, want 2x1", m.Width, m.Height)
				}
			}},
		{name: "CONF-13 size inferred from positions and dead boards",
			toml: explicitMachine("m1", "", 1, 1, nil, "dead_boards = [[1, 1, 0], [1, 1, 1], [1, 1, 2], [0, 1, 0], [0, 1, 1], [0, 1, 2], [1, 0, 0], [1, 0, 1], [1, 0, 2]]"),
			check: func(t *testing.T, cfg *Config) {
				if m := cfg.Machines[0]; m.Width != 2 || m.Height != 2 {
					t.Errorf("size %dx%d, want 2x2", m.Width, m.Height)
				}
			}},
		{name: "CONF-13 nothing to infer from",
			toml:    "[[machine]]\nname = \"m1\"\nbmps = []\nboards = []\n",
			wantErr: []string{`machine "m1": width, height: cannot be inferred: no boards are given`}},
		{name: "CONF-14 only width",
			toml:    explicitMachine("m1", "", 2, 1, nil, "width = 2"),
			wantErr: []string{`machine "m1": width, height: give both width and height, or neither`}},
		{name: "CONF-14 only height",
			toml:    explicitMachine("m1", "", 2, 1, nil, "height = 1"),
			wantErr: []string{`machine "m1": width, height: give both width and height, or neither`}},
		{name: "zero width",
			toml:    explicitMachine("m1", "", 2, 1, nil, "width = 0", "height = 1"),
			wantErr: []string{`machine "m1": width: 0 is not a size in triads from 1 to 256`}},
		{name: "an absurd inferred size",
			toml:    explicitMachine("m1", "", 1, 1, nil, "dead_boards = [[5000, 0, 0]]"),
			wantErr: []string{`machine "m1": width, height: the boards given make the machine 5001x1 triads, larger than 256x256`}},
	})
}

func TestConfSingleBoard(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "CONF-15 single board",
			toml: "[[machine]]\nname = \"sb\"\nsingle_board = { bmp_ip = \"bmp\", spinnaker_ip = \"spinn\" }\n",
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Machines[0]
				if m.Width != 1 || m.Height != 1 || !slices.Equal(m.Tags, []string{"default"}) {
					t.Errorf("size %dx%d tags %v, want 1x1 [default]", m.Width, m.Height, m.Tags)
				}
				if want := []geometry.Board{board(0, 0, 1), board(0, 0, 2)}; !slices.Equal(m.DeadBoards, want) {
					t.Errorf("dead boards %v, want %v", m.DeadBoards, want)
				}
				if len(m.DeadLinks) != 0 {
					t.Errorf("dead links %v, want none", m.DeadLinks)
				}
				if want := []BoardPos{{board(0, 0, 0), 0, 0, 0, "spinn"}}; !slices.Equal(m.Boards, want) {
					t.Errorf("boards %v, want %v", m.Boards, want)
				}
				if want := []BMP{{0, 0, "bmp"}}; !slices.Equal(m.BMPs, want) {
					t.Errorf("BMPs %v, want %v", m.BMPs, want)
				}
			}},
		{name: "single board may repeat an implied dead board",
			toml: "[[machine]]\nname = \"sb\"\ndead_boards = [[0, 0, 2]]\nsingle_board = { bmp_ip = \"bmp\", spinnaker_ip = \"spinn\" }\n",
			check: func(t *testing.T, cfg *Config) {
				if want := []geometry.Board{board(0, 0, 1), board(0, 0, 2)}; !slices.Equal(cfg.Machines[0].DeadBoards, want) {
					t.Errorf("dead boards %v, want %v", cfg.Machines[0].DeadBoards, want)
				}
			}},
		{name: "CONF-16 single board without BMP address",
			toml:    "[[machine]]\nname = \"sb\"\nsingle_board = { spinnaker_ip = \"spinn\" }\n",
			wantErr: []string{`machine "sb": single_board.bmp_ip: must be given`}},
		{name: "CONF-16 single board without board address",
			toml:    "[[machine]]\nname = \"sb\"\nsingle_board = { bmp_ip = \"bmp\" }\n",
			wantErr: []string{`machine "sb": single_board.spinnaker_ip: must be given`}},
		{name: "single board with a size",
			toml:    "[[machine]]\nname = \"sb\"\nwidth = 2\nsingle_board = { bmp_ip = \"bmp\", spinnaker_ip = \"spinn\" }\n",
			wantErr: []string{`machine "sb": width: not allowed with single_board`}},
	})
}

func TestConfStandardIPs(t *testing.T) {
	const fourBoards = `
[[machine]]
name = "std"
standard_ips = {}
boards = [
  { xyz = [0, 0, 0], cfb = [0, 0, 0] }, { xyz = [0, 0, 1], cfb = [0, 0, 1] }, { xyz = [0, 0, 2], cfb = [0, 0, 2] },
  { xyz = [0, 1, 0], cfb = [0, 1, 0] }, { xyz = [0, 1, 1], cfb = [0, 1, 1] }, { xyz = [0, 1, 2], cfb = [0, 1, 2] },
  { xyz = [1, 0, 0], cfb = [1, 0, 0] }, { xyz = [1, 0, 1], cfb = [1, 0, 1] }, { xyz = [1, 0, 2], cfb = [1, 0, 2] },
  { xyz = [1, 1, 0], cfb = [1, 1, 0] }, { xyz = [1, 1, 1], cfb = [1, 1, 1] }, { xyz = [1, 1, 2], cfb = [1, 1, 2] },
]
`
	withBase := func(base string) string {
		return strings.Replace(fourBoards, "standard_ips = {}", `standard_ips = { base_ip = "`+base+`" }`, 1)
	}
	cases := []confCase{
		{name: "CONF-17 standard IP scheme with its defaults",
			toml: fourBoards,
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Machines[0]
				wantBMPs := []BMP{{0, 0, "192.168.0.0"}, {0, 1, "192.168.1.0"}, {1, 0, "192.168.5.0"}, {1, 1, "192.168.6.0"}}
				if !slices.Equal(m.BMPs, wantBMPs) {
					t.Errorf("BMPs %v, want %v", m.BMPs, wantBMPs)
				}
				third := map[[2]int]string{{0, 0}: "192.168.0.", {0, 1}: "192.168.1.", {1, 0}: "192.168.5.", {1, 1}: "192.168.6."}
				for _, p := range m.Boards {
					want := third[[2]int{p.Board.X, p.Board.Y}] + []string{"1", "9", "17"}[p.Board.Z]
					if p.IP != want {
						t.Errorf("board %v has IP %s, want %s", p.Board, p.IP, want)
					}
				}
			}},
		{name: "standard IP scheme with every key",
			toml: strings.Replace(fourBoards, "standard_ips = {}", `standard_ips = { base_ip = "10.0.0.0", cabinet_stride = "0.1.0.0", frame_stride = "0.0.16.0", board_stride = "0.0.0.4", bmp_offset = "0.0.0.2", spinnaker_offset = "0.0.0.3" }`, 1),
			check: func(t *testing.T, cfg *Config) {
				m := cfg.Machines[0]
				if got := m.BMPs[3]; got != (BMP{1, 1, "10.1.16.2"}) {
					t.Errorf("BMP of (1, 1) is %v, want 10.1.16.2", got)
				}
				if got := m.Boards[11]; got.Board != board(1, 1, 2) || got.IP != "10.1.16.11" {
					t.Errorf("last board %v, want (1, 1, 2) at 10.1.16.11", got)
				}
			}},
		{name: "standard IP scheme past the last address",
			toml:    withBase("255.255.255.250"),
			wantErr: []string{`machine "std": boards[`, "no IPv4 address for cabinet 1, frame 1, board 2"}},
		{name: "standard IP scheme with an ip per board",
			toml:    strings.Replace(fourBoards, "cfb = [0, 0, 0] }", `cfb = [0, 0, 0], ip = "1.2.3.4" }`, 1),
			wantErr: []string{`machine "std": boards[0].ip: not allowed with standard_ips`}},
	}
	for _, bad := range []string{"spinn-4", "1.2.3", "-1.2.3.4", "256.2.3.4", "1.2.3.4.5"} {
		cases = append(cases, confCase{name: "CONF-18 base " + bad,
			toml:    withBase(bad),
			wantErr: []string{`machine "std": standard_ips.base_ip: malformed IPv4 address "` + bad + `"`}})
	}
	cases = append(cases, confCase{name: "CONF-18 malformed stride",
		toml:    strings.Replace(fourBoards, "standard_ips = {}", `standard_ips = { board_stride = "8" }`, 1),
		wantErr: []string{`machine "std": standard_ips.board_stride: malformed IPv4 address "8"`}})
	runConfCases(t, cases)
}

func TestConfForms(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "no form",
			toml:    "[[machine]]\nname = \"m\"\nwidth = 1\nheight = 1\n",
			wantErr: []string{`machine "m": no description of the machine: give single_board, standard_ips`}},
		{name: "two forms",
			toml:    "[[machine]]\nname = \"m\"\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\nstandard_ips = {}\nboards = []\n",
			wantErr: []string{`machine "m": single_board, standard_ips: these are alternative ways to describe a machine: give exactly one`}},
		{name: "standard_ips without positions",
			toml:    "[[machine]]\nname = \"m\"\nstandard_ips = {}\n",
			wantErr: []string{`machine "m": standard_ips: give the board positions either as boards or as spinner_csv`}},
		{name: "standard_ips with both kinds of positions",
			toml:    "[[machine]]\nname = \"m\"\nstandard_ips = {}\nboards = []\nspinner_csv = \"x.csv\"\n",
			wantErr: []string{`machine "m": standard_ips: give the board positions either as boards or as spinner_csv`}},
		{name: "bmps without boards",
			toml:    "[[machine]]\nname = \"m\"\nbmps = []\n",
			wantErr: []string{`machine "m": boards: missing: with bmps, list every working board`}},
		{name: "bmps with a CSV",
			toml:    "[[machine]]\nname = \"m\"\nbmps = []\nboards = []\nspinner_csv = \"x.csv\"\n",
			wantErr: []string{`machine "m": spinner_csv: not allowed with bmps`}},
		{name: "a machine without a name",
			toml:    "[[machine]]\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\n",
			wantErr: []string{`machine #1: name: every machine needs a name`}},
		{name: "tags",
			toml: "[[machine]]\nname = \"m\"\ntags = [\"a\", \"b\"]\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\n",
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Machines[0].Tags; !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("tags %v, want [a b]", got)
				}
			}},
		{name: "an empty tag",
			toml:    "[[machine]]\nname = \"m\"\ntags = [\"a\", \"\"]\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\n",
			wantErr: []string{`machine "m": tags[1]: a tag must not be empty`}},
		{name: "fake BMP",
			toml: "[[machine]]\nname = \"m\"\nfake_bmp = { power_delay = \"200ms\", link_delay = \"20ms\" }\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\n",
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Machines[0].FakeBMP; got == nil || got.PowerDelay.String() != "200ms" || got.LinkDelay.String() != "20ms" {
					t.Errorf("fake BMP %+v, want 200ms / 20ms", got)
				}
			}},
		{name: "fake BMP with a negative delay",
			toml:    "[[machine]]\nname = \"m\"\nfake_bmp = { power_delay = \"-1s\" }\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }\n",
			wantErr: []string{`machine "m": fake_bmp.power_delay: must be from 0s to 1m, not -1s`}},
	})
}

// An unknown key is reported at its line, with the known key spelled most
// like it (or the keys its table knows).
func TestConfUnknownKeys(t *testing.T) {
	runConfCases(t, []confCase{
		{name: "top level", toml: "sever = 1\n", wantErr: []string{`spinn-test.toml:1: unknown key "sever"; did you mean "server"?`}},
		{name: "server table", toml: "[server]\nlisen = \"x\"\n",
			wantErr: []string{`spinn-test.toml:2: server: unknown key "lisen"; did you mean "listen"?`}},
		{name: "nothing alike", toml: "[bmp]\n\nfrobnicate = 1\n",
			wantErr: []string{`spinn-test.toml:3: bmp: unknown key "frobnicate"; known keys here: fpga_check_rounds, post_power_on_delay, power_off_retries,`}},
		{name: "unknown table and its keys reported once",
			toml:    "[servers]\nlisten = \"x\"\nhttp = \"y\"\n",
			wantErr: []string{`spinn-test.toml:1: unknown key "servers"; did you mean "server"?`}},
		{name: "machine key",
			toml:    explicitMachine("m1", "a", 1, 1, nil) + explicitMachine("m2", "b", 1, 1, nil, "widht = 1"),
			wantErr: []string{`spinn-test.toml:11: machine "m2": unknown key "widht"; did you mean "width"?`}},
		{name: "key inside a board entry",
			toml:    strings.Replace(explicitMachine("m1", "", 1, 1, nil), `cfb = [0, 0, 1]`, `cfb = [0, 0, 1], ipp = "x"`, 1),
			wantErr: []string{`spinn-test.toml:6: machine "m1": boards[1]: unknown key "ipp"; did you mean "ip"?`}},
		{name: "machine key in an inline array of tables",
			toml:    "\nmachine = [{ name = \"m\", single_board = { bmp_ip = \"a\", spinnaker_ip = \"b\" }, tag = \"x\" }]\n",
			wantErr: []string{`spinn-test.toml:2: machine "m": unknown key "tag"; did you mean "tags"?`}},
		{name: "key inside single_board",
			toml:    "[[machine]]\nname = \"m\"\nsingle_board = { bmp_ip = \"a\", spinnaker_ip = \"b\", spinaker_ip = \"c\" }\n",
			wantErr: []string{`spinn-test.toml:3: machine "m": single_board: unknown key "spinaker_ip"; did you mean "spinnaker_ip"?`}},
	})
	_, err := Parse([]byte("[server]\nlisen = 1\n[bmp]\nretires = 2\n"), testFile)
	wantErrorContaining(t, err, `spinn-test.toml:2: server: unknown key "lisen"`, `spinn-test.toml:4: bmp: unknown key "retires"; did you mean "retries"?`)
}

func TestConfAllErrorsAtOnce(t *testing.T) {
	text := `
[server]
max_line_bytes = 0
[[machine]]
name = "a"
width = 2
single_board = { bmp_ip = "x", spinnaker_ip = "y" }
[[machine]]
name = "b"
standard_ips = { base_ip = "1.2.3" }
dead_boards = [[9, 9, 9]]
boards = [{ xyz = [0, 0, 0], cfb = [0, 0, 0] }]
`
	_, err := Parse([]byte(text), testFile)
	wantErrorContaining(t, err,
		"server.max_line_bytes: must be from 1024 to 16777216, not 0",
		`machine "a": width: not allowed with single_board`,
		`machine "b": standard_ips.base_ip: malformed IPv4 address "1.2.3"`,
		`machine "b": boards: no position for live boards`,
	)
	if n := strings.Count(err.Error(), "\n") + 1; n < 4 {
		t.Errorf("%d problems reported, want at least 4:\n%v", n, err)
	}
}

func TestConfCrossChecksSeeBrokenMachines(t *testing.T) {
	text := explicitMachine("a", "x", 1, 1, nil, `dead_boards = [[5, 5, 5]]`) + explicitMachine("b", "x", 1, 1, nil)
	_, err := Parse([]byte(text), testFile)
	wantErrorContaining(t, err,
		`machine "a": dead_boards[0]: board (5, 5, 5) is outside`,
		`machine "b": bmps[0]: BMP address "xbmp.0"`,
		`machine "b": boards[0]: SpiNNaker IP "x0.0.0" of board (0, 0, 0) is already used by board (0, 0, 0) (boards[0]) of machine "a"`,
	)
}

// A single-board machine's two missing slots are dead boards to the
// protocol, but not boards its operator listed as dead.
func TestSingleBoardHasNoListedDeadBoards(t *testing.T) {
	cfg := mustParse(t, singleBoard+explicitMachine("m", "x", 1, 1, []geometry.Board{board(0, 0, 2)}, "dead_boards = [[0, 0, 2]]"))
	one, m := cfg.Machine("one"), cfg.Machine("m")
	if !one.SingleBoard || len(one.DeadBoards) != 2 || len(one.ListedDeadBoards()) != 0 {
		t.Errorf("single board: SingleBoard %v, dead %v, listed dead %v; want true, 2, none",
			one.SingleBoard, one.DeadBoards, one.ListedDeadBoards())
	}
	if m.SingleBoard || len(m.ListedDeadBoards()) != 1 {
		t.Errorf("explicit machine: SingleBoard %v, listed dead %v; want false, one", m.SingleBoard, m.ListedDeadBoards())
	}
}
