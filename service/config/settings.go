package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func resolveServer(rep reporter, r rawServer, dir string) ServerSettings {
	s := defaultServer()
	setListenAddress(rep, "listen", r.Listen, &s.Listen, false)
	setListenAddress(rep, "http", r.HTTP, &s.HTTP, true)
	if r.Database != nil {
		s.Database = *r.Database
		if strings.TrimSpace(s.Database) == "" {
			rep.addf("database", "must name a file")
		}
	}
	s.Database = resolveDatabase(dir, s.Database)
	setDuration(rep, "keepalive_check_interval", r.KeepaliveCheckInterval, &s.KeepaliveCheckInterval, time.Millisecond)
	setDuration(rep, "free_delay", r.FreeDelay, &s.FreeDelay, 0)
	setInt(rep, "retain_destroyed", r.RetainDestroyed, &s.RetainDestroyed, 0)
	setInt(rep, "max_line_bytes", r.MaxLineBytes, &s.MaxLineBytes, 1)
	if r.AdminTokenFile != nil {
		s.AdminTokenFile = resolvePath(dir, *r.AdminTokenFile)
		if _, err := ReadAdminToken(s.AdminTokenFile); err != nil {
			rep.addf("admin_token_file", "%v", err)
		}
	}
	return s
}

// resolveDatabase resolves a relative database file, leaving SQLite's
// special names alone.
func resolveDatabase(dir, db string) string {
	if db == ":memory:" || strings.HasPrefix(db, "file:") {
		return db
	}
	return resolvePath(dir, db)
}

func resolveBMP(rep reporter, r rawBMP) BMPSettings {
	s := defaultBMP()
	setDuration(rep, "timeout", r.Timeout, &s.Timeout, time.Millisecond)
	setInt(rep, "retries", r.Retries, &s.Retries, 0)
	setDuration(rep, "power_on_timeout", r.PowerOnTimeout, &s.PowerOnTimeout, time.Millisecond)
	setInt(rep, "power_on_retries", r.PowerOnRetries, &s.PowerOnRetries, 0)
	setDuration(rep, "power_off_timeout", r.PowerOffTimeout, &s.PowerOffTimeout, time.Millisecond)
	setInt(rep, "power_off_retries", r.PowerOffRetries, &s.PowerOffRetries, 0)
	setDuration(rep, "post_power_on_delay", r.PostPowerOnDelay, &s.PostPowerOnDelay, 0)
	setInt(rep, "fpga_check_rounds", r.FPGACheckRounds, &s.FPGACheckRounds, 1)
	setInt(rep, "request_attempts", r.RequestAttempts, &s.RequestAttempts, 1)
	setDuration(rep, "request_retry_delay", r.RequestRetryDelay, &s.RequestRetryDelay, 0)
	setDuration(rep, "unreachable_free_after", r.UnreachableFreeAfter, &s.UnreachableFreeAfter, 0)
	if r.PowerOnRate != nil {
		s.PowerOnRate = *r.PowerOnRate
		if !(s.PowerOnRate >= 0) || s.PowerOnRate > 1e9 { // also rejects NaN
			rep.addf("power_on_rate", "must be a number of boards per second, 0 (unlimited) or more, not %v", s.PowerOnRate)
		}
	}
	return s
}

// setDuration copies a given duration into dst, checking its lower bound.
func setDuration(rep reporter, field string, v *duration, dst *time.Duration, minimum time.Duration) {
	if v == nil {
		return
	}
	*dst = time.Duration(*v)
	if *dst < minimum {
		rep.addf(field, "must be at least %v, not %v", minimum, *dst)
	}
}

// setInt copies a given integer into dst, checking its lower bound.
func setInt(rep reporter, field string, v *int, dst *int, minimum int) {
	if v == nil {
		return
	}
	*dst = *v
	if *dst < minimum {
		rep.addf(field, "must be at least %d, not %d", minimum, *dst)
	}
}

// setListenAddress copies a "host:port" listen address into dst; "" is
// accepted only when the listener may be disabled.
func setListenAddress(rep reporter, field string, v *string, dst *string, mayDisable bool) {
	if v == nil {
		return
	}
	*dst = *v
	if *v == "" && mayDisable {
		return
	}
	if err := checkHostPort(*v); err != nil {
		rep.addf(field, "%q is not a listen address such as \"127.0.0.1:22244\": %v", *v, err)
	}
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("the port must be a number from 0 to 65535")
	}
	return nil
}

// AdminToken reads the admin bearer token named by AdminTokenFile. It returns
// "" and no error when no file is configured (HTTP mutations disabled).
func (s ServerSettings) AdminToken() (string, error) {
	if s.AdminTokenFile == "" {
		return "", nil
	}
	return ReadAdminToken(s.AdminTokenFile)
}

// ReadAdminToken reads a token file: its content with surrounding white space
// removed. An empty token is an error, so a blank file never means "anyone".
func ReadAdminToken(path string) (string, error) {
	data, err := readSmallFile(path, 64<<10)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	return token, nil
}

// readSmallFile reads a regular file of at most limit bytes; devices, pipes
// and huge files are refused rather than read forever.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %s", path, describeFileError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %s", path, describeFileError(err))
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %s", path, describeFileError(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
