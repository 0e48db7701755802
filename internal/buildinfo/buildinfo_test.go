package buildinfo

import "testing"

func TestProtocolOf(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"1.0.0", "1.0.0", true},
		{"1.0.0-dev", "1.0.0", true},
		{"v2.3.4", "2.3.4", true},
		{"6.99.1+build.7", "6.99.1", true},
		{"0.1.0", "0.1.0", true},
		{"0.0.9", "", false}, // the client refuses < 0.1.0
		{"7.0.0", "", false}, // ... and >= 7.0.0
		{"dev", "", false},
		{"1.2", "", false},
		{"", "", false},
	} {
		got, ok := ProtocolOf(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ProtocolOf(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestProtocolFallsBackToTheDevelopmentVersion: a release number the client
// would refuse never reaches the v1 protocol.
func TestProtocolFallsBackToTheDevelopmentVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "7.1.0"
	if got := Protocol(); got != "1.0.0" {
		t.Errorf("Protocol() with version 7.1.0 = %q, want the development version's 1.0.0", got)
	}
	version = "2.5.0"
	if got := Protocol(); got != "2.5.0" {
		t.Errorf("Protocol() with version 2.5.0 = %q", got)
	}
}
