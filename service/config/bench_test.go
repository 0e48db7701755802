package config

import (
	"path/filepath"
	"testing"
)

// BenchmarkLoadSpinnaker1200 loads the 1200-board example (TOML + SpiNNer CSV).
func BenchmarkLoadSpinnaker1200(b *testing.B) {
	path := filepath.Join(examplesDir, "spinnaker-1200.toml")
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
