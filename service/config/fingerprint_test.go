package config

import (
	"strings"
	"testing"
)

func TestCompareClassifiesReloads(t *testing.T) {
	base := loadExample(t, "spinn-24.toml")
	baseText := mustRead(t, examplesDir+"/spinn-24.toml")
	cases := []struct {
		name string
		edit func(string) string
		want Change
	}{
		{"same text", func(s string) string { return s }, Unchanged},
		{"comments and board order", func(s string) string {
			s = strings.Replace(s, "  { xyz = [0, 0, 0], cfb = [0, 0, 0] },\n", "", 1)
			return strings.Replace(s, "boards = [\n", "boards = [\n  # moved\n  { xyz = [0, 0, 0], cfb = [0, 0, 0] },\n", 1)
		}, Unchanged},
		{"tags", func(s string) string { return strings.Replace(s, `tags = ["default"]`, `tags = ["default", "big"]`, 1) }, MinorChange},
		{"a board marked dead, position kept", func(s string) string {
			return strings.Replace(s, "# dead_boards = [[1, 0, 1]]", "dead_boards = [[1, 0, 1]]", 1)
		}, MinorChange},
		{"a dead link", func(s string) string {
			return strings.Replace(s, `# dead_links = [[0, 0, 0, "north"]]`, `dead_links = [[0, 0, 0, "north"]]`, 1)
		}, MinorChange},
		{"addresses", func(s string) string { return strings.Replace(s, `base_ip = "10.2.0.0"`, `base_ip = "10.3.0.0"`, 1) }, MajorChange},
		{"positions", func(s string) string {
			s = strings.Replace(s, "cfb = [0, 0, 0] }", "cfb = [0, 0, X] }", 1)
			s = strings.Replace(s, "cfb = [0, 0, 1] }", "cfb = [0, 0, 0] }", 1)
			return strings.Replace(s, "cfb = [0, 0, X] }", "cfb = [0, 0, 1] }", 1)
		}, MajorChange},
		{"size", func(s string) string {
			s = strings.Replace(s, "width = 4", "width = 5", 1)
			return strings.Replace(s, "# dead_boards = [[1, 0, 1]]",
				"dead_boards = [[4, 0, 0], [4, 0, 1], [4, 0, 2], [4, 1, 0], [4, 1, 1], [4, 1, 2]]", 1)
		}, MajorChange},
		{"a fake BMP", func(s string) string {
			return strings.Replace(s, "width = 4", "width = 4\nfake_bmp = {}", 1)
		}, MajorChange},
		{"a board marked dead and its position dropped", func(s string) string {
			s = strings.Replace(s, "# dead_boards = [[1, 0, 1]]", "dead_boards = [[1, 0, 1]]", 1)
			return strings.Replace(s, "  { xyz = [1, 0, 1], cfb = [0, 0, 4] },\n", "", 1)
		}, MajorChange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.edit(baseText)
			if tc.name != "same text" && text == baseText {
				t.Fatal("the edit changed nothing")
			}
			cfg, err := Parse([]byte(text), "edited.toml")
			if err != nil {
				t.Fatal(err)
			}
			if got := Compare(&base.Machines[0], &cfg.Machines[0]); got != tc.want {
				t.Errorf("Compare = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFingerprintsDoNotDependOnOrder(t *testing.T) {
	a := mustParse(t, "[[machine]]\nname = \"m\"\ntags = [\"x\", \"y\"]\nsingle_board = { bmp_ip = \"b\", spinnaker_ip = \"s\" }\n").Machines[0]
	b := mustParse(t, "[[machine]]\nname = \"m\"\ntags = [\"y\", \"x\"]\nsingle_board = { bmp_ip = \"b\", spinnaker_ip = \"s\" }\n").Machines[0]
	if a.MinorFingerprint() != b.MinorFingerprint() || a.MajorFingerprint() != b.MajorFingerprint() {
		t.Error("tag order changed a fingerprint")
	}
	if a.MajorFingerprint() == a.MinorFingerprint() || len(a.MajorFingerprint()) != 64 {
		t.Errorf("fingerprints %q and %q, want two different SHA-256 digests", a.MajorFingerprint(), a.MinorFingerprint())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	cfg, err := readText(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
