package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tidwall/gjson"
)

// processSet tracks every process the benchmark started, so that all of them are stopped on exit.
type processSet struct {
	mu    sync.Mutex
	procs map[*caddyProcess]struct{}
}

func newProcessSet() *processSet {
	return &processSet{procs: make(map[*caddyProcess]struct{})}
}

func (s *processSet) add(p *caddyProcess) {
	s.mu.Lock()
	s.procs[p] = struct{}{}
	s.mu.Unlock()
}

func (s *processSet) remove(p *caddyProcess) {
	s.mu.Lock()
	delete(s.procs, p)
	s.mu.Unlock()
}

func (s *processSet) stopAll() {
	s.mu.Lock()
	list := make([]*caddyProcess, 0, len(s.procs))
	for p := range s.procs {
		list = append(list, p)
	}
	s.mu.Unlock()
	for _, p := range list {
		p.stop()
	}
}

// caddyProcess is one running Caddy, or a peer gateway (which has no admin endpoint).
type caddyProcess struct {
	name  string
	cmd   *exec.Cmd
	admin string // host:port of the admin endpoint
	log   string // file holding its stdout and stderr
	done  chan struct{}
	set   *processSet
}

// pid returns the process id.
func (p *caddyProcess) pid() int { return p.cmd.Process.Pid }

// stop interrupts the process, and kills it if it has not exited 3 seconds later.
func (p *caddyProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.set.remove(p)
}

// exited reports whether the process has ended.
func (p *caddyProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail returns the last lines of the process's output, for error messages.
func (p *caddyProcess) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// buildCaddy builds ./cmd/caddy of the main module into dir.
func buildCaddy(ctx context.Context, dir string) (string, error) {
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root (run from inside the repository): %v", err)
	}
	bin := filepath.Join(dir, "caddy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = strings.TrimSpace(string(root))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy failed: %v\n%s", err, out.String())
	}
	return bin, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	seen := make(map[int]bool)
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// globalOptions is the Caddyfile global block every process uses: its own admin port, no HTTPS, no
// persisted config, and logs at the default level.
func globalOptions(adminPort int, dataDir string) string {
	return fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tauto_https off\n\tpersist_config off\n\tstorage file_system %s\n}\n",
		adminPort, dataDir)
}

// startCaddy writes caddyfile and runs Caddy with it, isolated in its own HOME and XDG directories, and waits
// until every port in ready accepts connections.
func startCaddy(ctx context.Context, bin, dir, name, caddyfile string, adminPort int, ready []int, set *processSet, env ...string) (*caddyProcess, error) {
	pdir := filepath.Join(dir, name)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(pdir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(pdir, "caddy.log")
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+pdir, "XDG_DATA_HOME="+pdir, "XDG_CONFIG_HOME="+pdir)
	cmd.Env = append(cmd.Env, env...)
	return startProcess(ctx, cmd, name, logPath, "127.0.0.1:"+strconv.Itoa(adminPort), ready, set)
}

// startProcess starts cmd with its output in logPath and waits until its admin address (if any) and every
// port in ready accept connections.
func startProcess(ctx context.Context, cmd *exec.Cmd, name, logPath, admin string, ready []int, set *processSet) (*caddyProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", cmd.Path, err)
	}
	p := &caddyProcess{name: name, cmd: cmd, admin: admin, log: logPath, done: make(chan struct{}), set: set}
	set.add(p)
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	addrs := make([]string, 0, len(ready)+1)
	if admin != "" {
		addrs = append(addrs, admin)
	}
	for _, port := range ready {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, addr := range addrs {
		for {
			if p.exited() {
				return nil, fmt.Errorf("%s exited at start:\n%s", name, p.logTail())
			}
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				p.stop()
				return nil, fmt.Errorf("%s did not listen on %s within 20s:\n%s", name, addr, p.logTail())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p, nil
}

// adapts reports whether Caddy accepts caddyfile, and if not, why.
func adapts(ctx context.Context, bin, dir, caddyfile string) (bool, string) {
	path := filepath.Join(dir, "probe.Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o644); err != nil {
		return false, err.Error()
	}
	out, err := exec.CommandContext(ctx, bin, "adapt", "--config", path, "--adapter", "caddyfile").CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		if m := gjson.Get(msg, "msg"); m.Exists() {
			msg = m.Str
		}
		if i := strings.Index(msg, ", at /"); i >= 0 {
			msg = msg[:i]
		}
		return false, msg
	}
	return true, ""
}

// adminGet fetches a path from a process's admin endpoint.
func adminGet(ctx context.Context, p *caddyProcess, path string) ([]byte, error) {
	if p.admin == "" {
		return nil, fmt.Errorf("%s has no admin endpoint", p.name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.admin+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin %s: status %d", path, resp.StatusCode)
	}
	return buf.Bytes(), nil
}
