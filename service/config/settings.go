package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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
	setDuration(rep, "keepalive_check_interval", r.KeepaliveCheckInterval, &s.KeepaliveCheckInterval)
	setDuration(rep, "free_delay", r.FreeDelay, &s.FreeDelay)
	setInt(rep, "retain_destroyed", r.RetainDestroyed, &s.RetainDestroyed)
	setInt(rep, "max_line_bytes", r.MaxLineBytes, &s.MaxLineBytes)
	setInt(rep, "max_output_bytes", r.MaxOutputBytes, &s.MaxOutputBytes)
	setInt(rep, "max_connections", r.MaxConnections, &s.MaxConnections)
	setInt(rep, "max_connections_per_address", r.MaxConnectionsPerAddr, &s.MaxConnectionsPerAddress)
	if r.AdminTokenFile != nil {
		s.AdminTokenFile = resolvePath(dir, *r.AdminTokenFile)
		checkAdminTokenFile(rep, s.AdminTokenFile)
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
	setDuration(rep, "timeout", r.Timeout, &s.Timeout)
	setInt(rep, "retries", r.Retries, &s.Retries)
	setDuration(rep, "power_on_timeout", r.PowerOnTimeout, &s.PowerOnTimeout)
	setInt(rep, "power_on_retries", r.PowerOnRetries, &s.PowerOnRetries)
	setDuration(rep, "power_off_timeout", r.PowerOffTimeout, &s.PowerOffTimeout)
	setInt(rep, "power_off_retries", r.PowerOffRetries, &s.PowerOffRetries)
	setDuration(rep, "post_power_on_delay", r.PostPowerOnDelay, &s.PostPowerOnDelay)
	setInt(rep, "fpga_check_rounds", r.FPGACheckRounds, &s.FPGACheckRounds)
	setInt(rep, "request_attempts", r.RequestAttempts, &s.RequestAttempts)
	setDuration(rep, "request_retry_delay", r.RequestRetryDelay, &s.RequestRetryDelay)
	setDuration(rep, "unreachable_free_after", r.UnreachableFreeAfter, &s.UnreachableFreeAfter)
	setFloat(rep, "power_on_rate", r.PowerOnRate, &s.PowerOnRate)
	return s
}

func resolveScheduler(rep reporter, r rawScheduler) SchedulerSettings {
	s := SchedulerSettings{Policy: PolicyReserve}
	if r.Policy != nil {
		s.Policy = *r.Policy
		if !slices.Contains(Policies, s.Policy) {
			rep.addf("policy", "must be %q or %q, not %q", PolicyReserve, PolicyFIFO, s.Policy)
		}
	}
	return s
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

// checkAdminTokenFile reports a token file that cannot be used, and warns
// when every user of the machine may read it.
func checkAdminTokenFile(rep reporter, path string) {
	if _, err := ReadAdminToken(path); err != nil {
		rep.addf("admin_token_file", "%v", err)
		return
	}
	warnIfWorldReadable(rep, "admin_token_file", path)
}

// warnIfWorldReadable warns when every user of the machine may read a token
// file.
func warnIfWorldReadable(rep reporter, field, path string) {
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o004 != 0 {
		rep.warnf(field, "%s is readable by every user (mode %04o): anyone who can log in may use the admin API; chmod o-r it",
			path, info.Mode().Perm())
	}
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
