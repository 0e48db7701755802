package main

import (
	"fmt"
	"sync"

	"github.com/spalloc/spallocd/bmp/fakebmp"
	"github.com/spalloc/spallocd/service/config"
)

// fakeLogLimit keeps the fakes' exchange logs (for tests' eyes only) small
// in the daemon: 10,000 exchanges per frame would cost megabytes each.
const fakeLogLimit = 64

// fakeFleet runs an in-process fake BMP on loopback for every BMP of the
// machines whose configuration asks for fakes (`fake_bmp = {...}`), and
// tells the BMP workers where to find them instead of the configured address.
type fakeFleet struct {
	mu    sync.Mutex
	fakes map[string]*fakebmp.Server // by configured BMP address
}

func newFakeFleet() *fakeFleet {
	return &fakeFleet{fakes: map[string]*fakebmp.Server{}}
}

// sync starts fakes for new fake BMPs of cfg, and gives a running fake the
// boards a reconfiguration added to its frame. Fakes of BMPs that left the
// configuration, and boards that left a frame, stay until close: a worker
// may still be finishing a power-off on them.
func (f *fakeFleet) sync(cfg *config.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range cfg.Machines {
		if m.FakeBMP == nil {
			continue
		}
		for _, b := range m.BMPs {
			if err := f.serveFrameLocked(m, b); err != nil {
				return fmt.Errorf("machine %q: fake BMP for cabinet %d frame %d: %w", m.Name, b.Cabinet, b.Frame, err)
			}
		}
	}
	return nil
}

// serveFrameLocked makes a fake answer for the boards of m in the frame of
// bmp; f.mu must be held.
func (f *fakeFleet) serveFrameLocked(m config.Machine, bmp config.BMP) error {
	boards := frameBoardNums(m, bmp.Cabinet, bmp.Frame)
	if srv, ok := f.fakes[bmp.Address]; ok {
		return srv.AddBoards(boards)
	}
	srv, err := fakebmp.New(fakebmp.Options{
		Listen:     "127.0.0.1:0",
		Boards:     boards,
		PowerDelay: m.FakeBMP.PowerDelay,
		LinkDelay:  m.FakeBMP.LinkDelay,
		LogLimit:   fakeLogLimit,
	})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		return err
	}
	f.fakes[bmp.Address] = srv
	return nil
}

// frameBoardNums lists the board numbers the fake of one frame must answer
// for: every board of m in the frame (dead boards included: a real BMP
// powers a dead board's slot too). The fake adds board 0, whose BMP takes
// the frame's power commands, whether m uses that board or not.
func frameBoardNums(m config.Machine, cabinet, frame int) []int {
	seen := map[int]bool{}
	var nums []int
	add := func(p config.BoardPos) {
		if p.Cabinet == cabinet && p.Frame == frame && !seen[p.BoardNum] {
			seen[p.BoardNum] = true
			nums = append(nums, p.BoardNum)
		}
	}
	for _, p := range m.Boards {
		add(p)
	}
	for _, p := range m.DeadBoardPositions {
		add(p)
	}
	if len(nums) == 0 {
		return fakebmp.DefaultBoards()
	}
	return nums
}

// resolve maps a configured BMP address to where the worker must send: the
// loopback address of its fake, or the address itself.
func (f *fakeFleet) resolve(address string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if srv, ok := f.fakes[address]; ok {
		return srv.Addr()
	}
	return address
}

func (f *fakeFleet) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, srv := range f.fakes {
		srv.Close()
		delete(f.fakes, addr)
	}
}

// settingsFor returns the BMP settings per configured address: a fake BMP
// needs no settling time after a power-on, and answers at once.
func (f *fakeFleet) settingsFor(real config.BMPSettings) func(address string) config.BMPSettings {
	return func(address string) config.BMPSettings {
		f.mu.Lock()
		_, fake := f.fakes[address]
		f.mu.Unlock()
		if !fake {
			return real
		}
		s := real
		s.PostPowerOnDelay = 0
		return s
	}
}
