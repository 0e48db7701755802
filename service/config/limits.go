package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The accepted range of every numeric setting, by its full key. They are
// the one place these ranges live: resolving a file checks every given
// value against them, and the README's configuration reference lists them
// (a test checks it does). The bounds are far from what a facility needs
// and close enough that no sum, product or allocation made from a value can
// overflow or exhaust memory.
var (
	intRanges = map[string][2]int{
		"server.retain_destroyed":            {0, 100_000_000},
		"server.max_line_bytes":              {1 << 10, 16 << 20},
		"server.max_output_bytes":            {64 << 10, 1 << 30},
		"server.max_connections":             {1, 1_000_000},
		"server.max_connections_per_address": {1, 1_000_000},
		"bmp.retries":                        {0, 100},
		"bmp.power_on_retries":               {0, 100},
		"bmp.power_off_retries":              {0, 100},
		"bmp.fpga_check_rounds":              {1, 100},
		"bmp.request_attempts":               {1, 100},
		"policy.max_live_jobs_per_owner":     {1, 1_000_000},
		"policy.max_boards_per_owner":        {1, 1_000_000},
		"policy.max_queued_jobs_per_owner":   {1, 1_000_000},
		"policy.sick_board_reports":          {1, 1000},
	}
	durationRanges = map[string][2]time.Duration{
		"server.keepalive_check_interval": {10 * time.Millisecond, time.Hour},
		"server.free_delay":               {0, 24 * time.Hour},
		"bmp.timeout":                     {time.Millisecond, time.Minute},
		"bmp.power_on_timeout":            {time.Millisecond, 10 * time.Minute},
		"bmp.power_off_timeout":           {time.Millisecond, 10 * time.Minute},
		"bmp.post_power_on_delay":         {0, 10 * time.Minute},
		"bmp.request_retry_delay":         {0, time.Hour},
		"bmp.unreachable_free_after":      {0, 7 * 24 * time.Hour},
		"machine.fake_bmp.power_delay":    {0, time.Minute},
		"machine.fake_bmp.link_delay":     {0, time.Minute},
		"policy.max_keepalive":            {time.Second, 8760 * time.Hour},
		"policy.max_job_duration":         {time.Second, 8760 * time.Hour},
		"policy.sick_board_window":        {time.Second, 720 * time.Hour},
	}
	floatRanges = map[string][2]float64{
		"bmp.power_on_rate": {0, 1_000_000},
	}
)

// setInt copies a given integer into dst, checking its range.
func setInt(rep reporter, field string, v *int, dst *int) {
	if v == nil {
		return
	}
	r := mustRange(intRanges, rep.key(field))
	*dst = *v
	if *v < r[0] || *v > r[1] {
		rep.addf(field, "must be from %d to %d, not %d", r[0], r[1], *v)
	}
}

// setDuration copies a given duration into dst, checking its range.
func setDuration(rep reporter, field string, v *duration, dst *time.Duration) {
	if v == nil {
		return
	}
	r := mustRange(durationRanges, rep.key(field))
	*dst = time.Duration(*v)
	if *dst < r[0] || *dst > r[1] {
		rep.addf(field, "must be from %s to %s, not %s", FormatDuration(r[0]), FormatDuration(r[1]), FormatDuration(*dst))
	}
}

// setFloat copies a given number into dst, checking its range (NaN is
// outside every range).
func setFloat(rep reporter, field string, v *float64, dst *float64) {
	if v == nil {
		return
	}
	r := mustRange(floatRanges, rep.key(field))
	*dst = *v
	if !(*v >= r[0] && *v <= r[1]) {
		rep.addf(field, "must be from %s to %s, not %v", formatFloat(r[0]), formatFloat(r[1]), *v)
	}
}

// FormatDuration writes d as one would in the file: "24h", "1m30s", "10ms".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// mustRange returns the range of key; a setting without one is a bug of
// this package, caught by its tests.
func mustRange[T any](ranges map[string][2]T, key string) [2]T {
	r, ok := ranges[key]
	if !ok {
		panic(fmt.Sprintf("config: no range for setting %q", key))
	}
	return r
}
