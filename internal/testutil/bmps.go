package testutil

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/spalloc/spallocd/bmp"
	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/bmp/scp"
	"github.com/spalloc/spallocd/service/config"
)

// BMPOptions configure StartBMPs.
type BMPOptions struct {
	// PowerDelay and LinkDelay are the fakes' reply delays for power-on
	// and FPGA register writes (fakebmp.Options).
	PowerDelay, LinkDelay time.Duration
	// PowerOffDelay delays the fakes' replies to power-off too (they
	// answer at once by default), so that a job's power-off is seen.
	PowerOffDelay time.Duration
	// Settings are the BMP workers' time-outs and retries; nil means the
	// service configuration's [bmp] settings without the wait after a
	// power-on (a fake is ready at once), as spallocd runs fake BMPs.
	Settings *config.BMPSettings
	// Logger receives the workers' logs; nil discards them.
	Logger *slog.Logger
}

// BMPs is a fake BMP on loopback for every BMP of a service's machines and
// the real BMP workers (bmp.Manager) driving them.
type BMPs struct {
	t       testing.TB
	svc     *Service
	opts    BMPOptions
	Manager *bmp.Manager

	mu    sync.Mutex
	fakes map[string]*fakebmp.Server // by configured BMP address
}

// StartBMPs starts a fake BMP (package bmp/fakebmp) for every BMP of the
// machines of s's configuration (the last one applied), and a bmp.Manager
// whose workers claim the service's BMP operations and carry them out on
// the fakes. A BMP configured later gets its fake when its worker starts
// (after Manager.Sync, or by itself within the manager's poll interval).
// The manager and the fakes stop when the test ends, before the service
// closes.
func StartBMPs(t testing.TB, s *Service, opts BMPOptions) *BMPs {
	t.Helper()
	if s.Config == nil {
		t.Fatal("StartBMPs: the service has no configuration (NewService with a TOML configuration)")
	}
	b := &BMPs{t: t, svc: s, opts: opts, fakes: map[string]*fakebmp.Server{}}
	for _, m := range s.Config.Machines {
		for _, ep := range m.BMPs {
			if _, err := b.fake(ep.Address); err != nil {
				b.closeFakes()
				t.Fatalf("StartBMPs: %v", err)
			}
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b.Manager = bmp.NewManager(s.Service, bmp.ManagerOptions{
		Settings:    b.settings(),
		SettingsFor: func(string) config.BMPSettings { return b.settings() },
		Resolve:     b.resolve,
		Logger:      logger,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.Manager.Run(ctx); err != nil {
			t.Errorf("BMP manager: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		b.closeFakes()
	})
	return b
}

func (b *BMPs) settings() config.BMPSettings {
	if b.opts.Settings != nil {
		return *b.opts.Settings
	}
	st := b.svc.Config.BMP
	st.PostPowerOnDelay = 0
	return st
}

// Fake returns the fake serving the BMP configured at address (as written
// in the configuration), or nil.
func (b *BMPs) Fake(address string) *fakebmp.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fakes[address]
}

// resolve tells a worker where the fake of a configured address listens,
// starting the fake if the BMP is new.
func (b *BMPs) resolve(address string) string {
	srv, err := b.fake(address)
	if err != nil {
		b.t.Errorf("fake BMP for %s: %v", address, err)
		return address
	}
	return srv.Addr()
}

// fake returns the fake of a configured address, starting it if needed.
func (b *BMPs) fake(address string) (*fakebmp.Server, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if srv := b.fakes[address]; srv != nil {
		return srv, nil
	}
	srv, err := fakebmp.New(fakebmp.Options{
		Boards:     frameBoards(b.svc.Config, address),
		PowerDelay: b.opts.PowerDelay,
		LinkDelay:  b.opts.LinkDelay,
	})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		return nil, err
	}
	if b.opts.PowerOffDelay > 0 {
		srv.AddRule(fakebmp.Rule{Cmds: []scp.Command{scp.CmdPower}, Power: fakebmp.PowerOff,
			Action: fakebmp.Delay(b.opts.PowerOffDelay)})
	}
	b.fakes[address] = srv
	return srv, nil
}

func (b *BMPs) closeFakes() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for addr, srv := range b.fakes {
		srv.Close()
		delete(b.fakes, addr)
	}
}

// frameBoards lists the board numbers in the frame of the BMP at address:
// every positioned slot, dead boards included (a real BMP powers a dead
// board's slot too). Unknown: a full frame.
func frameBoards(cfg *config.Config, address string) []int {
	seen := map[int]bool{}
	var nums []int
	for _, m := range cfg.Machines {
		for _, ep := range m.BMPs {
			if ep.Address != address {
				continue
			}
			for _, p := range append(append([]config.BoardPos(nil), m.Boards...), m.DeadBoardPositions...) {
				if p.Cabinet == ep.Cabinet && p.Frame == ep.Frame && !seen[p.BoardNum] {
					seen[p.BoardNum] = true
					nums = append(nums, p.BoardNum)
				}
			}
		}
	}
	if len(nums) == 0 {
		return fakebmp.DefaultBoards()
	}
	return nums
}
