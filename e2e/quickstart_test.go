package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// quickstartPath is examples/quickstart/Caddyfile, from this package's directory.
const quickstartPath = "../examples/quickstart/Caddyfile"

// quickstartKey is the client key the quickstart's gateway accepts.
const quickstartKey = "quickstart-key"

// quickstart is the real examples/quickstart/Caddyfile running in its own Caddy process.
type quickstart struct {
	*caddyProc
	simPort int
}

// startQuickstart runs examples/quickstart/Caddyfile as an operator would (`caddy run --config Caddyfile`),
// with only its three ports changed to free loopback ports: the gateway's :8080, the simulator's :8081 (its
// site address and every base_url pointing at it) and the admin endpoint's :2019. The ports are replaced as
// text, so that the test breaks loudly when the quickstart stops using one of them rather than testing
// something else. The process is stopped when the test ends.
func startQuickstart(t *testing.T) *quickstart {
	t.Helper()
	bin := caddyBinary(t)
	src, err := os.ReadFile(quickstartPath)
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	admin, gw, sim := ports[0], ports[1], ports[2]
	cfg, err := substitutePorts(string(src), map[string]int{":2019": admin, ":8080": gw, ":8081": sim})
	if err != nil {
		t.Fatalf("%s: %v", quickstartPath, err)
	}

	dir := t.TempDir()
	p := &caddyProc{t: t, name: "quickstart", dir: dir, adminPort: admin, port: gw,
		outPath: filepath.Join(dir, "output.log"), done: make(chan struct{})}
	// The quickstart logs to stderr: stop prints the end of outPath when the test fails.
	p.logPath = p.outPath
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"home", "config", "data"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(p.outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd = exec.Command(bin, "run", "--config", "Caddyfile")
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = childProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting the quickstart: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	// Not the admin port: "localhost" may resolve to an address other than 127.0.0.1, and Caddy serves its
	// sites only after the admin endpoint is up.
	p.waitListening(gw, sim)
	return &quickstart{caddyProc: p, simPort: sim}
}

// substitutePorts replaces each ":port" of ports in a Caddyfile with the new port, in one pass. Every old port
// must appear outside comments, or the Caddyfile has changed shape and the caller must be updated.
func substitutePorts(caddyfile string, ports map[string]int) (string, error) {
	var code strings.Builder
	for _, line := range strings.Split(caddyfile, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			code.WriteString(line + "\n")
		}
	}
	var pairs []string
	for old, port := range ports {
		if !strings.Contains(code.String(), old) {
			return "", fmt.Errorf("no %q outside comments: the quickstart changed its ports, update startQuickstart", old)
		}
		pairs = append(pairs, old, ":"+strconv.Itoa(port))
	}
	return strings.NewReplacer(pairs...).Replace(caddyfile), nil
}

func TestSubstitutePorts(t *testing.T) {
	got, err := substitutePorts("# :8080\n{\n\tadmin localhost:2019\n}\n:8080 {\n\tbase_url http://127.0.0.1:8081/v1\n}\n:8081 {\n}\n",
		map[string]int{":2019": 8081, ":8080": 8080, ":8081": 40000})
	if err != nil {
		t.Fatal(err)
	}
	want := "# :8080\n{\n\tadmin localhost:8081\n}\n:8080 {\n\tbase_url http://127.0.0.1:40000/v1\n}\n:40000 {\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := substitutePorts("# :2019\n:8080 {\n}\n", map[string]int{":2019": 1, ":8080": 2}); err == nil ||
		!strings.Contains(err.Error(), `":2019"`) {
		t.Errorf("a port only in a comment: err = %v, want one naming \":2019\"", err)
	}
}
