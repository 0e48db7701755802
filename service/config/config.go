package config

import (
	"time"

	"github.com/spalloc/spallocd/service/geometry"
)

// Config is a loaded, validated configuration.
type Config struct {
	Server    ServerSettings
	BMP       BMPSettings
	Policy    PolicySettings
	Scheduler SchedulerSettings
	// AdminTokens are the named tokens of [[admin_token]], in file order
	// (ReadAdminTokens adds [server] admin_token_file's).
	AdminTokens []AdminToken
	Machines    []Machine // in priority order (the order of the file)
	Path        string    // the file it came from, as given to Load or Parse ("" if none)
	// Warnings are things that work but are probably not meant (e.g. an
	// admin token readable by every user), each naming file and field.
	Warnings []string
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
	// max_output_bytes: replies and notifications a v1 client has not read
	// yet, at most; past it the client is disconnected.
	MaxOutputBytes int
	// max_connections and max_connections_per_address: v1 connections at
	// once, in all and from one IP address; 0 = derived from the open-file
	// limit (see ConnectionLimits).
	MaxConnections           int
	MaxConnectionsPerAddress int
}

// BMPSettings are the [bmp] keys: how real BMPs are driven (docs/bmp.md
// gives the reasons for the defaults). Timeouts are per attempt; retries
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

// SchedulerSettings are the [scheduler] keys: the order in which queued
// jobs are served.
type SchedulerSettings struct {
	Policy string // policy: PolicyReserve or PolicyFIFO
}

// The scheduling policies ([scheduler] policy).
const (
	// PolicyReserve serves each machine's queue in order, but a head that
	// cannot be placed reserves a region, and later jobs that fit outside
	// every reservation start first (docs/scheduling.md).
	PolicyReserve = "reserve"
	// PolicyFIFO serves each machine's queue strictly in order: nothing
	// starts while the head of the queue waits.
	PolicyFIFO = "fifo"
)

// Policies lists the accepted [scheduler] policy values, the default first.
var Policies = []string{PolicyReserve, PolicyFIFO}

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
	// SingleBoard: described by single_board, a 1x1-triad machine of
	// board (0, 0, 0) only. Its other two slots are in DeadBoards (the v1
	// protocol reports them so), but they are not boards an operator has
	// lost: see ListedDeadBoards.
	SingleBoard bool
}

// ListedDeadBoards are the dead boards of the machine as its operator sees
// them: DeadBoards without the two slots a single-board machine does not
// have.
func (m *Machine) ListedDeadBoards() []geometry.Board {
	if !m.SingleBoard {
		return m.DeadBoards
	}
	var listed []geometry.Board
	for _, b := range m.DeadBoards {
		if b.X != 0 || b.Y != 0 || b.Z == 0 {
			listed = append(listed, b)
		}
	}
	return listed
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
// machines and the defaults of docs/configuration.md.
func Default() *Config {
	return &Config{Server: defaultServer(), BMP: defaultBMP(), Policy: defaultPolicy(),
		Scheduler: SchedulerSettings{Policy: PolicyReserve}}
}

func defaultServer() ServerSettings {
	return ServerSettings{
		Listen:                 "0.0.0.0:22244",
		HTTP:                   "127.0.0.1:22245",
		Database:               "spalloc.db",
		KeepaliveCheckInterval: 5 * time.Second,
		MaxLineBytes:           64 << 10,
		MaxOutputBytes:         4 << 20,
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

// Files a server needs besides its v1 connections and BMP sockets: the
// database (a writer and four readers, each with the database, its WAL and
// shared memory), the lock, the configuration watcher, the listeners, logs,
// and HTTP clients of the admin API and dashboard.
const reservedFiles = 128

// ConnectionLimits returns how many v1 connections the server accepts at
// once, in all and from one address. Settings not given are derived from
// openFiles (the process's open-file limit) and the number of BMPs: all
// files but those reserved for the database, the HTTP port and one socket
// per BMP, and half of that from one address, so that one host can never
// take every connection.
func (s ServerSettings) ConnectionLimits(openFiles uint64, bmps int) (total, perAddress int) {
	total = s.MaxConnections
	if total == 0 {
		limit := mustRange(intRanges, "server.max_connections")
		spare := int64(min(openFiles, uint64(limit[1]))) - reservedFiles - int64(bmps)
		total = int(max(spare, int64(limit[0])))
	}
	perAddress = s.MaxConnectionsPerAddress
	if perAddress == 0 {
		perAddress = max(total/2, 1)
	}
	return total, perAddress
}
