// Package redistest starts real Redis servers for tests: one server, or a three-node Redis Cluster made with
// redis-server --cluster-enabled yes and redis-cli --cluster create. Without redis-server (and redis-cli)
// in PATH the test is skipped, or fails under CI=true, where the Redis tests must run.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster is a running three-node Redis Cluster (masters only, all 16384 slots covered).
type Cluster struct {
	// Addrs are the nodes' host:port, any of which is a seed node.
	Addrs []string
	stops []func()
}

// Server is a running single Redis server.
type Server struct {
	// Addr is its host:port.
	Addr string
	stop func()
}

// Close stops the server.
func (s *Server) Close() { s.stop() }

// Close stops the cluster's nodes.
func (c *Cluster) Close() {
	for _, stop := range c.stops {
		stop()
	}
}

// Missing says which program the servers need is not in PATH; "" when none is missing.
func Missing() string {
	for _, n := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(n); err != nil {
			return n + " is not in PATH (Debian: apt-get install redis-server; or scripts/redis-test-server.sh install)"
		}
	}
	return ""
}

// need skips the test (or fails it under CI=true) when a program is missing.
func need(tb testing.TB) {
	tb.Helper()
	if msg := Missing(); msg != "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("Redis tests must run in CI: " + msg)
		}
		tb.Skip(msg)
	}
}

// StartServer starts one redis-server on a free loopback port, stopped when the test ends.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	need(tb)
	s, err := NewServer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartCluster starts a three-node cluster (NewCluster), stopped when the test ends.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	need(tb)
	c, err := NewCluster()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// NewServer starts one redis-server on a free loopback port; Close stops it.
func NewServer() (*Server, error) {
	port, err := freePort(false)
	if err != nil {
		return nil, err
	}
	stop, err := startNode(port, false)
	if err != nil {
		return nil, err
	}
	return &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), stop: stop}, nil
}

// NewCluster starts three redis-server nodes in cluster mode, joins them with redis-cli --cluster create and
// waits until the cluster is ok on every node; Close stops them.
func NewCluster() (*Cluster, error) {
	c := &Cluster{}
	for range 3 {
		port, err := freePort(true)
		if err == nil {
			var stop func()
			if stop, err = startNode(port, true); err == nil {
				c.stops = append(c.stops, stop)
				c.Addrs = append(c.Addrs, "127.0.0.1:"+strconv.Itoa(port))
			}
		}
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range c.Addrs {
		for !strings.Contains(command(a, "CLUSTER", "INFO"), "cluster_state:ok") {
			if time.Now().After(deadline) {
				c.Close()
				return nil, fmt.Errorf("the Redis Cluster on %v did not reach cluster_state:ok within 20s", c.Addrs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c, nil
}

// Sentinel is a running Redis Sentinel watching one master.
type Sentinel struct {
	// Addr is the Sentinel's host:port; MasterName the name it knows the master by.
	Addr, MasterName string
	stop             func()
}

// Close stops the Sentinel (not its master).
func (s *Sentinel) Close() { s.stop() }

// NewSentinel starts a Sentinel (redis-server --sentinel) that monitors master as "mymaster" and waits until
// it knows the master's address; Close stops it.
func NewSentinel(master *Server) (*Sentinel, error) {
	port, err := freePort(false)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aigw-sentinel-")
	if err != nil {
		return nil, err
	}
	host, mport, _ := strings.Cut(master.Addr, ":")
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor mymaster %s %s 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), host, mport)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop, err := startServer(dir, conf, "--sentinel")
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); command(addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster") != "*2"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "sentinel.log"))
			stop()
			return nil, fmt.Errorf("the Sentinel on %s did not know its master within 10s:\n%s", addr, log)
		}
	}
	return &Sentinel{Addr: addr, MasterName: "mymaster", stop: stop}, nil
}

// usedPorts are the ports handed out in this process, so two servers never pick the same one.
var usedPorts sync.Map

// freePort returns a free loopback port; for a cluster node, one whose bus port (+10000) is free too.
func freePort(bus bool) (int, error) {
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if bus {
			if port+10000 > 65535 {
				continue
			}
			lb, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
			if err != nil {
				continue
			}
			lb.Close()
		}
		if _, taken := usedPorts.LoadOrStore(port, true); !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port for redis-server")
}

// startNode starts redis-server on port (in cluster mode when cluster is set), waits until it answers, and
// returns the function that stops it.
func startNode(port int, cluster bool) (func(), error) {
	dir, err := os.MkdirTemp("", "aigw-redis-")
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000")
	}
	stop, err := startServer(dir, args...)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(5 * time.Second); command(addr, "PING") != "+PONG"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within 5s:\n%s", addr, log)
		}
	}
	return stop, nil
}

// command sends one command in RESP and returns the reply's text (a bulk reply's body, or a simple reply
// line with its type byte); "" on failure.
func command(addr string, args ...string) string {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return ""
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return ""
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return ""
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return ""
	}
	return string(body[:n])
}

// startServer starts redis-server with args in dir, and returns what stops it and removes dir; dir is removed
// when it cannot start.
func startServer(dir string, args ...string) (stop func(), err error) {
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting redis-server %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func() {
		_ = cmd.Process.Kill()
		<-done
		os.RemoveAll(dir)
	}, nil
}
