package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/spalloc/spallocd/tcpserver/client"
)

const unitFile = "../../packaging/spallocd.service"

// readUnit returns the unit's settings by "Section.Key" (the last value of
// a key given twice).
func readUnit(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit, section := map[string]string{}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			unit[section+"."+k] = v
		}
	}
	return unit
}

// TestSystemdUnitVerifies: systemd's own checker accepts the unit without
// a warning (with the binary where the unit expects it), and rates its
// sandboxing as good.
func TestSystemdUnitVerifies(t *testing.T) {
	spallocd, _ := binaries(t)
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): the unit cannot be verified here")
	}
	text, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "spallocd.service")
	os.WriteFile(unit, []byte(strings.ReplaceAll(string(text), "/usr/local/bin/spallocd", spallocd)), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=yes", unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for spallocd.service: ([\d.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.5 {
		t.Errorf("exposure level %s, want at most 2.5 (systemd's scale: 0 safest, 10 unprotected)\n%s", m[1], out)
	}
}

// TestSystemdUnitStartsAsUnprivilegedUser runs the unit's ExecStart command
// line as systemd would: as an unprivileged user, with the configuration in
// a folder it cannot write and the state directory made for it. The server
// must start, keep its database in the state directory and serve jobs.
func TestSystemdUnitStartsAsUnprivilegedUser(t *testing.T) {
	spallocd, _ := binaries(t)
	unit := readUnit(t)
	for key, want := range map[string]string{
		"Unit.Wants": "network-online.target", "Unit.After": "network-online.target",
		"Service.StateDirectory": "spallocd", "Service.User": "spalloc",
	} {
		if unit[key] != want {
			t.Errorf("%s=%q, want %q", key, unit[key], want)
		}
	}
	argv := strings.Fields(unit["Service.ExecStart"])
	stateDir := "/var/lib/" + unit["Service.StateDirectory"]
	if len(argv) == 0 || argv[0] != "/usr/local/bin/spallocd" {
		t.Fatalf("ExecStart=%s: want /usr/local/bin/spallocd and its flags", unit["Service.ExecStart"])
	}

	// A root for the installation that an unprivileged user can traverse.
	root, err := os.MkdirTemp("", "spallocd-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	bin, etc, state := filepath.Join(root, "bin"), filepath.Join(root, "etc"), filepath.Join(root, "state")
	for _, d := range []string{bin, etc, state} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, _ := os.ReadFile(spallocd)
	os.WriteFile(filepath.Join(bin, "spallocd"), exe, 0o755)
	os.WriteFile(filepath.Join(etc, "spalloc.toml"), []byte(`[server]
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
admin_token_file = "admin-token"

[[machine]]
name = "sb"
single_board = { bmp_ip = "10.0.0.1", spinnaker_ip = "10.0.0.2" }
fake_bmp = { power_delay = "10ms", link_delay = "1ms" }
`), 0o644)
	os.WriteFile(filepath.Join(etc, "admin-token"), []byte("s3cret\n"), 0o640)
	os.Chmod(etc, 0o555)

	var cred *syscall.Credential
	if os.Getuid() == 0 { // as systemd's User=: nobody, owning only the state directory
		const nobody, nogroup = 65534, 65534
		os.Chown(state, nobody, nogroup)
		os.Chown(filepath.Join(etc, "admin-token"), 0, nogroup)
		cred = &syscall.Credential{Uid: nobody, Gid: nogroup}
	}
	for i, a := range argv {
		a = strings.Replace(a, "/usr/local/bin", bin, 1)
		a = strings.Replace(a, "/etc/spallocd", etc, 1)
		argv[i] = strings.Replace(a, stateDir, state, 1)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "STATE_DIRECTORY=" + state}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	p := startCmd(t, cmd)
	dbLine := regexp.MustCompile(`v1 protocol on (\S+), database (\S+)`)
	m := p.AwaitAll(t, dbLine)
	if want := filepath.Join(state, "spalloc.db"); m[2] != want {
		t.Fatalf("the unit's command line opens database %s, want %s", m[2], want)
	}
	c := dial(t, m[1])
	awaitState(t, c, createJob(t, c), client.StateReady)
	p.stop(t)
	if _, err := os.Stat(filepath.Join(state, "spalloc.db")); err != nil {
		t.Errorf("no database in the state directory: %v", err)
	}
	if entries, _ := os.ReadDir(etc); len(entries) != 2 {
		t.Errorf("the configuration folder holds %d files, want spalloc.toml and admin-token only", len(entries))
	}
}
