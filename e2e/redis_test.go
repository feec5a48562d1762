package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// redisProc is a redis-server started for one test, with no persistence.
type redisProc struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server from PATH on a free loopback port and stops it when the test ends. Without
// redis-server the test is skipped, or fails under CI=true, where the Redis tests must run.
func startRedis(t *testing.T) *redisProc {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not in PATH (Debian: apt-get install redis-server; or scripts/redis-test-server.sh install)"
		if os.Getenv("CI") == "true" {
			t.Fatal("Redis tests must run in CI: " + msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	r := &redisProc{t: t, addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	r.cmd = exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir)
	r.cmd.Dir = dir
	r.cmd.SysProcAttr = childProcAttr()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.kill)
	for deadline := time.Now().Add(5 * time.Second); !r.ping(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 5s", r.addr)
		}
	}
	return r
}

// ping reports whether the server answers PING.
func (r *redisProc) ping() bool {
	c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// kill stops the server at once, as a crash would.
func (r *redisProc) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}
