package config

import (
	"fmt"
	"time"
)

// The raw* types mirror the file. Pointers mark keys whose absence matters.

type rawFile struct {
	Server     rawServer       `toml:"server"`
	BMP        rawBMP          `toml:"bmp"`
	Scheduler  rawScheduler    `toml:"scheduler"`
	Policy     rawPolicy       `toml:"policy"`
	AdminToken []rawAdminToken `toml:"admin_token"`
	Machine    []rawMachine    `toml:"machine"`
}

type rawScheduler struct {
	Policy *string `toml:"policy"`
}

type rawServer struct {
	Listen                 *string   `toml:"listen"`
	HTTP                   *string   `toml:"http"`
	Database               *string   `toml:"database"`
	KeepaliveCheckInterval *duration `toml:"keepalive_check_interval"`
	FreeDelay              *duration `toml:"free_delay"`
	RetainDestroyed        *int      `toml:"retain_destroyed"`
	AdminTokenFile         *string   `toml:"admin_token_file"`
	MaxLineBytes           *int      `toml:"max_line_bytes"`
	MaxOutputBytes         *int      `toml:"max_output_bytes"`
	MaxConnections         *int      `toml:"max_connections"`
	MaxConnectionsPerAddr  *int      `toml:"max_connections_per_address"`
}

type rawBMP struct {
	Timeout              *duration `toml:"timeout"`
	Retries              *int      `toml:"retries"`
	PowerOnTimeout       *duration `toml:"power_on_timeout"`
	PowerOnRetries       *int      `toml:"power_on_retries"`
	PowerOffTimeout      *duration `toml:"power_off_timeout"`
	PowerOffRetries      *int      `toml:"power_off_retries"`
	PostPowerOnDelay     *duration `toml:"post_power_on_delay"`
	FPGACheckRounds      *int      `toml:"fpga_check_rounds"`
	RequestAttempts      *int      `toml:"request_attempts"`
	RequestRetryDelay    *duration `toml:"request_retry_delay"`
	PowerOnRate          *float64  `toml:"power_on_rate"`
	UnreachableFreeAfter *duration `toml:"unreachable_free_after"`
}

type rawMachine struct {
	Name        *string         `toml:"name"`
	Tags        *[]string       `toml:"tags"`
	Width       *int            `toml:"width"`
	Height      *int            `toml:"height"`
	DeadBoards  [][]int         `toml:"dead_boards"`
	DeadLinks   [][]any         `toml:"dead_links"`
	SingleBoard *rawSingleBoard `toml:"single_board"`
	StandardIPs *rawStandardIPs `toml:"standard_ips"`
	BMPs        *[]rawBMPEntry  `toml:"bmps"`
	Boards      *[]rawBoard     `toml:"boards"`
	SpinnerCSV  *string         `toml:"spinner_csv"`
	FakeBMP     *rawFakeBMP     `toml:"fake_bmp"`
}

type rawSingleBoard struct {
	BMPIP       *string `toml:"bmp_ip"`
	SpinnakerIP *string `toml:"spinnaker_ip"`
}

type rawStandardIPs struct {
	BaseIP          *string `toml:"base_ip"`
	CabinetStride   *string `toml:"cabinet_stride"`
	FrameStride     *string `toml:"frame_stride"`
	BoardStride     *string `toml:"board_stride"`
	BMPOffset       *string `toml:"bmp_offset"`
	SpinnakerOffset *string `toml:"spinnaker_offset"`
}

type rawBMPEntry struct {
	CF []int  `toml:"cf"`
	IP string `toml:"ip"`
}

type rawBoard struct {
	XYZ []int   `toml:"xyz"`
	CFB []int   `toml:"cfb"`
	IP  *string `toml:"ip"`
}

type rawFakeBMP struct {
	PowerDelay *duration `toml:"power_delay"`
	LinkDelay  *duration `toml:"link_delay"`
}

// duration is a Go duration string. Unlike time.Duration in the TOML library,
// it refuses bare numbers: `timeout = 5` would otherwise mean 5 ns.
type duration time.Duration

func (d *duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("a duration must be a string such as \"500ms\" or \"5s\", not %v", v)
	}
	parsed, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"500ms\" or \"5s\"", s)
	}
	*d = duration(parsed)
	return nil
}
