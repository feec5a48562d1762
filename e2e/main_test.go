package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// enableVar is the environment variable that turns the end-to-end tests on.
const enableVar = "AIGW_E2E"

// binDir holds the Caddy binary built for this test run; TestMain removes it.
var binDir string

// build builds the binary once per test run, the first time a test asks for it.
var build struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aigw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot make a directory for the Caddy binary:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireE2E skips the test unless the end-to-end tests are turned on.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv(enableVar) != "1" {
		t.Skipf("end-to-end test: set %s=1 to build ./cmd/caddy and run it against real processes", enableVar)
	}
}

// caddyBinary returns the path of the Caddy binary of ./cmd/caddy, building it on first use.
func caddyBinary(t *testing.T) string {
	t.Helper()
	requireE2E(t)
	build.once.Do(func() { build.path, build.err = buildCaddy(binDir) })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// buildCaddy runs `go build -o <dir>/caddy ./cmd/caddy` in the module root.
func buildCaddy(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v (is the go command in PATH?)", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD found no module: run the tests from inside the repository")
	}
	bin := filepath.Join(dir, "caddy")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = filepath.Dir(mod)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy failed: %v\n%s", err, out.String())
	}
	return bin, nil
}
