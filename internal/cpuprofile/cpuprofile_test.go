package cpuprofile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := Start(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v, %v", path, fi, err)
	}
}

func TestStartNamesTheFlag(t *testing.T) {
	_, err := Start(filepath.Join(t.TempDir(), "missing", "cpu.pprof"))
	if err == nil || !strings.HasPrefix(err.Error(), "--cpuprofile: ") {
		t.Fatalf("error %v, want one naming --cpuprofile", err)
	}
}
