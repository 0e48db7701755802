package config

import (
	_ "embed"
	"fmt"
)

//go:embed demo.toml
var demoTOML []byte

// DemoTOML returns the text of the built-in demo configuration.
func DemoTOML() []byte { return append([]byte(nil), demoTOML...) }

// Demo returns the built-in demo configuration: a 4x2-triad machine
// "demo-4x2" with one dead board and one dead link, and a single-board
// machine "demo-board", both served by fake BMPs. Its Path is "" and its
// database a bare file name; the daemon decides where that goes.
func Demo() *Config {
	cfg, err := Parse(demoTOML, "")
	if err != nil {
		// The file is compiled in and loaded by the tests; this cannot
		// happen in a released binary.
		panic(fmt.Sprintf("config: built-in demo configuration is invalid: %v", err))
	}
	return cfg
}
