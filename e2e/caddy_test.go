package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// startTimeout bounds how long a process may take to listen on its ports.
const startTimeout = 20 * time.Second

// caddyProc is one running Caddy process serving one site on a loopback port.
type caddyProc struct {
	t         *testing.T
	name      string
	dir       string
	adminPort int
	port      int
	logPath   string // the global JSON log
	outPath   string // stdout and stderr
	cmd       *exec.Cmd
	done      chan struct{}
}

// caddyConfig is what a generated Caddyfile holds besides ports and paths.
type caddyConfig struct {
	// global is added inside the global options block.
	global string
	// site is the site block's body.
	site string
}

// render writes the Caddyfile for p: its admin port, no persisted config, no HTTPS, a JSON log to a file,
// and the site on p.port, bound to loopback.
func (c caddyConfig) render(p *caddyProc) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	grace_period 1s
	log {
		output file %s
		format json
	}
%s
}

:%d {
	bind 127.0.0.1
%s
}
`, p.adminPort, p.logPath, c.global, p.port, c.site)
}

// startCaddy starts a Caddy process with cfg, waits until it listens, and stops it when the test ends.
func startCaddy(t *testing.T, name string, cfg caddyConfig) *caddyProc {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 2)
	p := &caddyProc{t: t, name: name, dir: dir, adminPort: ports[0], port: ports[1],
		logPath: filepath.Join(dir, "caddy.log"), outPath: filepath.Join(dir, "output.log"), done: make(chan struct{})}
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg.render(p)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(p.outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, sub := range []string{"home", "config", "data"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.cmd = exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = childProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting caddy %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	p.waitListening(p.adminPort, p.port)
	return p
}

// url returns the site's URL for path.
func (p *caddyProc) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(p.port) + path
}

// exited reports whether the process has ended.
func (p *caddyProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop interrupts the process, and kills it if it has not exited 3 seconds later.
func (p *caddyProc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if p.t.Failed() {
		p.t.Logf("caddy %s output (last lines):\n%s\nlog (last lines):\n%s", p.name, tail(p.outPath, 2000), tail(p.logPath, 2000))
	}
}

func (p *caddyProc) waitListening(ports ...int) {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for _, port := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		for {
			if p.exited() {
				p.t.Fatalf("caddy %s exited at start:\n%s", p.name, tail(p.outPath, 3000))
			}
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				p.t.Fatalf("caddy %s did not listen on %s within %v:\n%s", p.name, addr, startTimeout, tail(p.outPath, 3000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// reload loads cfg through the admin API's /load endpoint, as `caddy reload` does.
func (p *caddyProc) reload(cfg caddyConfig) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.adminURL("/load"), strings.NewReader(cfg.render(p)))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("reloading caddy %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("reloading caddy %s: status %d: %s", p.name, resp.StatusCode, body)
	}
}

func (p *caddyProc) adminURL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(p.adminPort) + path
}

// goroutines returns the process's goroutine count from the first line of the admin endpoint's goroutine
// profile, "goroutine profile: total N", and the profile itself.
func (p *caddyProc) goroutines() (int, string) {
	p.t.Helper()
	resp, err := http.Get(p.adminURL("/debug/pprof/goroutine?debug=1"))
	if err != nil {
		p.t.Fatalf("goroutine profile of caddy %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("goroutine profile of caddy %s: %v", p.name, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	n, ok := strings.CutPrefix(first, "goroutine profile: total ")
	count, err := strconv.Atoi(n)
	if !ok || err != nil {
		p.t.Fatalf("goroutine profile of caddy %s starts with %q, not \"goroutine profile: total N\"", p.name, first)
	}
	return count, string(b)
}

// logEntries returns the entries of the process's JSON log whose msg starts with msg, in order.
func (p *caddyProc) logEntries(msg string) []gjson.Result {
	p.t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil && !os.IsNotExist(err) {
		p.t.Fatal(err)
	}
	var out []gjson.Result
	for _, line := range bytes.Split(b, []byte("\n")) {
		if e := gjson.ParseBytes(line); len(line) > 0 && strings.HasPrefix(e.Get("msg").Str, msg) {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits up to 10 seconds for the log to hold n entries whose msg starts with msg and that match keep,
// and returns all of them.
func (p *caddyProc) waitLog(msg string, n int, keep func(gjson.Result) bool) []gjson.Result {
	p.t.Helper()
	var got []gjson.Result
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		for _, e := range p.logEntries(msg) {
			if keep == nil || keep(e) {
				got = append(got, e)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
	}
	if len(got) < n {
		p.t.Fatalf("caddy %s logged %d %q lines that match, want %d; log:\n%s", p.name, len(got), msg, n, tail(p.logPath, 4000))
	}
	return got
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// tail returns the end of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// waitFor polls cond every 50ms until it holds or the timeout passes, and reports whether it held.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
