package bmp

import (
	"context"
	"testing"

	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/config"
)

// Sequence numbers wrap at 65535 and skip any still outstanding.
func TestSequenceWrapSkipsOutstanding(t *testing.T) {
	c, err := Dial(context.Background(), "127.0.0.1", OptionsFrom(config.Default().BMP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, _ := c.register(scp.CmdVersion) // 0 stays outstanding
	if held != 0 {
		t.Fatalf("first sequence %d, want 0", held)
	}
	for i := 1; i < 70000; i++ {
		seq, _ := c.register(scp.CmdVersion)
		if seq == held {
			t.Fatalf("outstanding sequence %d handed out again", held)
		}
		if want := uint16(i % 65536); i < 65536 && seq != want {
			t.Fatalf("registration %d got %d, want %d", i, seq, want)
		}
		c.unregister(seq)
	}
}
