package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spalloc/spallocd/service/config"
)

// The built-in demo keeps its database and admin token in the user's state
// folder ($XDG_STATE_HOME/spallocd, else ~/.local/state/spallocd), so that a
// newcomer's first run leaves nothing in the working folder.

// placeDemoState puts the demo's database (unless --db gave one) and its
// admin token into the state folder, creating the token on the first run.
func placeDemoState(cfg *config.Config, keepDatabase bool) error {
	dir, err := demoStateDir()
	if err != nil {
		return err
	}
	if !keepDatabase {
		cfg.Server.Database = filepath.Join(dir, "demo.db")
	}
	cfg.Server.AdminTokenFile = filepath.Join(dir, "admin-token")
	return ensureToken(cfg.Server.AdminTokenFile)
}

func demoStateDir() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home folder for the demo's state (set XDG_STATE_HOME or give --db and --config): %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "spallocd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("demo state folder: %w", err)
	}
	return dir, nil
}

// ensureToken creates a token file of 32 random bytes (hex), readable by its
// owner only, unless it exists already.
func ensureToken(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo admin token: %w", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if _, err := fmt.Fprintln(f, hex.EncodeToString(secret)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("demo admin token %s: %w", path, err)
	}
	return f.Close()
}

// printFirstSteps tells a newcomer how to reach the server: the spalloc
// client's command line, and for the demo a curl line with the admin token.
func printFirstSteps(w io.Writer, protoAddr, httpAddr, tokenFile string, demo bool) {
	host, port, _ := net.SplitHostPort(protoAddr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	fmt.Fprintf(w, "try the spalloc client (pip install spalloc): spalloc --hostname %s --port %s --owner %s 1\n",
		host, port, ownerName())
	if !demo || httpAddr == "" || tokenFile == "" {
		return
	}
	fmt.Fprintf(w, "admin token (for the HTTP API's changes) in %s; for example, take a board out of service and back:\n", tokenFile)
	board := "http://" + httpAddr + "/api/v1/machines/demo-4x2/boards/0/1/0"
	auth := fmt.Sprintf(`-H "Authorization: Bearer $(cat %s)"`, tokenFile)
	fmt.Fprintf(w, "  curl -X POST %s -d '{\"reason\": \"trying the admin API\"}' %s/out_of_service\n", auth, board)
	fmt.Fprintf(w, "  curl -X POST %s %s/in_service\n", auth, board)
}

// ownerName is the name the hint gives as the job's owner.
func ownerName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "demo-user"
}
