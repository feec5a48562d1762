package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// logRoot holds the log directories of every site of the run; it outlives Caddy's log writers.
var logRoot string

// TestMain points HOME and the XDG directories at a temporary directory, so that the in-process Caddy writes
// its autosave and storage there and not in the user's home, and keeps the sites' log files there too.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ai-gateway-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the test home directory:", err)
		os.Exit(1)
	}
	for env, sub := range map[string]string{"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache"} {
		p := filepath.Join(dir, sub)
		err := os.MkdirAll(p, 0o700)
		if err == nil {
			err = os.Setenv(env, p)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "preparing", env, err)
			os.Exit(1)
		}
	}
	logRoot = filepath.Join(dir, "logs")
	if err := os.MkdirAll(logRoot, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "creating the log directory:", err)
		os.Exit(1)
	}
	code := m.Run()
	// Stop the last configuration, and with it its log writers, before removing their directory.
	_ = caddy.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
