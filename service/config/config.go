package config

import (
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// Config is a loaded, validated configuration.
type Config struct {
	Server   ServerSettings
	BMP      BMPSettings
	Machines []Machine // in priority order (the order of the file)
	Path     string    // the file it came from, as given to Load or Parse ("" if none)
}

// ServerSettings are the [server] keys. File paths are already resolved
// against the configuration file's folder.
type ServerSettings struct {
	Listen                 string        // listen: v1 TCP protocol address
	HTTP                   string        // http: admin API address; "" disables it
	Database               string        // database: SQLite file
	KeepaliveCheckInterval time.Duration // keepalive_check_interval
	FreeDelay              time.Duration // free_delay: wait after a confirmed power-off before reuse
	RetainDestroyed        int           // retain_destroyed: destroyed jobs kept; 0 = all
	AdminTokenFile         string        // admin_token_file: "" = HTTP mutations disabled
	MaxLineBytes           int           // max_line_bytes: longest accepted protocol line
}

// BMPSettings are the [bmp] keys: how real BMPs are driven (bmp-protocol.md
// §5 gives the reasons for the defaults). Timeouts are per attempt; retries
// count resends after the first.
type BMPSettings struct {
	Timeout              time.Duration // timeout: sver, FPGA read and write
	Retries              int           // retries: for sver, FPGA read and write
	PowerOnTimeout       time.Duration // power_on_timeout
	PowerOnRetries       int           // power_on_retries
	PowerOffTimeout      time.Duration // power_off_timeout
	PowerOffRetries      int           // power_off_retries
	PostPowerOnDelay     time.Duration // post_power_on_delay: wait before talking to FPGAs
	FPGACheckRounds      int           // fpga_check_rounds: power-on + FLAG check rounds
	RequestAttempts      int           // request_attempts: tries of a whole queued request
	RequestRetryDelay    time.Duration // request_retry_delay: wait between those tries
	PowerOnRate          float64       // power_on_rate: boards per second per BMP; 0 = unlimited
	UnreachableFreeAfter time.Duration // unreachable_free_after: free boards whose power-off never got through
}

// Machine is one resolved machine.
type Machine struct {
	Name   string
	Tags   []string
	Width  int // triads
	Height int // triads
	// DeadBoards and DeadLinks are sorted (by board, then link).
	DeadBoards []geometry.Board
	DeadLinks  []DeadLink
	// BMPs has one entry per frame that holds a positioned board, sorted by
	// cabinet then frame (explicit form: as listed, sorted).
	BMPs []BMP
	// Boards holds every working board, sorted by board.
	Boards []BoardPos
	// DeadBoardPositions holds dead boards whose position was given anyway
	// (SpiNNer CSVs list every slot). They keep a board's slot and address
	// part of the machine's layout, so marking a board dead is a minor change.
	DeadBoardPositions []BoardPos
	FakeBMP            *FakeBMP // nil: real BMPs
}

// DeadLink is a link that must not be used, leaving Board in direction Link.
type DeadLink struct {
	Board geometry.Board
	Link  geometry.Link
}

// BMP is the address of one frame's BMP.
type BMP struct {
	Cabinet, Frame int
	// Address is "host" or "host:port" as written; the BMP client applies
	// the default port 17893.
	Address string
}

// BoardPos places a board physically and gives its Ethernet address.
type BoardPos struct {
	Board                    geometry.Board
	Cabinet, Frame, BoardNum int
	IP                       string
}

// FakeBMP asks the server to serve a machine's BMPs with in-process fakes on
// loopback, with these delays.
type FakeBMP struct {
	PowerDelay time.Duration // before a power-on reply
	LinkDelay  time.Duration // before an FPGA link write reply
}

// Default returns the configuration used for keys that are not given: no
// machines and the defaults of spec §4 and bmp-protocol.md §5.
func Default() *Config {
	return &Config{Server: defaultServer(), BMP: defaultBMP()}
}

func defaultServer() ServerSettings {
	return ServerSettings{
		Listen:                 "0.0.0.0:22244",
		HTTP:                   "127.0.0.1:22245",
		Database:               "spalloc.db",
		KeepaliveCheckInterval: 5 * time.Second,
		MaxLineBytes:           65536,
	}
}

func defaultBMP() BMPSettings {
	return BMPSettings{
		Timeout:              time.Second,
		Retries:              3,
		PowerOnTimeout:       10 * time.Second,
		PowerOffTimeout:      2 * time.Second,
		PostPowerOnDelay:     5 * time.Second,
		FPGACheckRounds:      3,
		RequestAttempts:      2,
		RequestRetryDelay:    15 * time.Second,
		UnreachableFreeAfter: 5 * time.Minute,
	}
}

// Machine returns the machine called name, or nil.
func (c *Config) Machine(name string) *Machine {
	for i := range c.Machines {
		if c.Machines[i].Name == name {
			return &c.Machines[i]
		}
	}
	return nil
}
