package bmp_test

import (
	"context"
	"testing"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/service/config"
)

// BenchmarkVersionRoundTrip measures one sver over loopback UDP to the fake.
func BenchmarkVersionRoundTrip(b *testing.B) {
	s, err := fakebmp.New(fakebmp.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := bmp.Dial(context.Background(), s.Addr(), bmp.OptionsFrom(config.Default().BMP))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
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
	s, err := fakebmp.New(fakebmp.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := bmp.Dial(context.Background(), s.Addr(), bmp.OptionsFrom(config.Default().BMP))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	boards := fakebmp.DefaultBoards()
	ctx := context.Background()
	for b.Loop() {
		if failed, err := c.PowerOnAndCheck(ctx, boards, bmp.CheckOptions{Rounds: config.Default().BMP.FPGACheckRounds}); err != nil || failed != nil {
			b.Fatal(failed, err)
		}
	}
}
