package service

// Time in memory is time.Time (instants) and time.Duration (spans). The
// database keeps Unix seconds (REAL) and the v1 protocol floats of seconds;
// these functions convert at the columns. Instants are kept to the
// microsecond, so that a time read back from its column is the same time.

import (
	"math"
	"time"
)

// stamp is t as the service keeps instants: UTC, to the microsecond, with
// no monotonic reading.
func stamp(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// unix is an instant as its column holds it.
func unix(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// timeAt is the instant a column holds.
func timeAt(secs float64) time.Time { return time.UnixMicro(int64(math.Round(secs * 1e6))).UTC() }

// unixPtr is unix for a column that may be NULL (the zero time).
func unixPtr(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := unix(t)
	return &v
}

// timePtr is timeAt for a column that may be NULL.
func timePtr(secs *float64) *time.Time {
	if secs == nil {
		return nil
	}
	t := timeAt(*secs)
	return &t
}

// durationPtr is a span of seconds from a column that may be NULL.
func durationPtr(secs *float64) *time.Duration {
	if secs == nil {
		return nil
	}
	d := time.Duration(math.Round(*secs * float64(time.Second)))
	return &d
}

// secondsPtr is a span as its column holds it (NULL for nil).
func secondsPtr(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := d.Seconds()
	return &v
}
