package bmp_test

import (
	"context"
	"testing"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/service/config"
)

// benchClient starts a fake frame and a client of it with the default
// [bmp] settings, both closed when the benchmark ends.
func benchClient(b *testing.B) *bmp.Client {
	b.Helper()
	s, err := fakebmp.New(fakebmp.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, err := bmp.Dial(context.Background(), s.Addr(), bmp.OptionsFrom(config.Default().BMP))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkVersionRoundTrip measures one sver over loopback UDP to the fake.
func BenchmarkVersionRoundTrip(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Version(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPowerOnAndCheck24 measures powering a full frame on and reading
// its 72 FLAG registers (no post-power-on wait).
func BenchmarkPowerOnAndCheck24(b *testing.B) {
	c := benchClient(b)
	boards := fakebmp.DefaultBoards()
	ctx := context.Background()
	for b.Loop() {
		if failed, err := c.PowerOnAndCheck(ctx, boards, bmp.CheckOptions{Rounds: config.Default().BMP.FPGACheckRounds}); err != nil || failed != nil {
			b.Fatal(failed, err)
		}
	}
}
