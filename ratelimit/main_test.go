package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aibackend/caddy-ai-gateway/internal/redistest"
)

// redisURL is the Redis the tests use: AIGW_REDIS_URL, or a redis-server started by TestMain.
var redisURL, redisMissing string

// cluster is a three-node Redis Cluster started by TestMain; nil (clusterMissing says why) without redis-server.
var (
	cluster        *redistest.Cluster
	clusterMissing string
)

func TestMain(m *testing.M) {
	stop := startRedis()
	if clusterMissing = redistest.Missing(); clusterMissing == "" {
		var err error
		if cluster, err = redistest.NewCluster(); err != nil {
			clusterMissing = err.Error()
		}
	}
	code := m.Run()
	if cluster != nil {
		cluster.Close()
	}
	stop()
	os.Exit(code)
}

// clusterOptions returns options for the test cluster with a prefix of the test's own, or skips the test
// when there is none (and fails instead under CI=true).
func clusterOptions(tb testing.TB) RedisOptions {
	tb.Helper()
	if cluster == nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis Cluster tests must run in CI: %s", clusterMissing)
		}
		tb.Skip(clusterMissing)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	return RedisOptions{Addresses: cluster.Addrs, Cluster: true, Prefix: "aigwtest:" + hex.EncodeToString(id[:]) + ":"}
}

func startRedis() (stop func()) {
	if u := os.Getenv("AIGW_REDIS_URL"); u != "" {
		redisURL = u
		return func() {}
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		redisMissing = "AIGW_REDIS_URL is unset and redis-server is not in PATH (apt-get install redis-server)"
		return func() {}
	}
	dir, err := os.MkdirTemp("", "aigw-redis-")
	if err != nil {
		redisMissing = "cannot make a directory for redis-server: " + err.Error()
		return func() {}
	}
	port := freePort()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		redisMissing = "cannot start redis-server: " + err.Error()
		return func() {}
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opts, _ := redis.ParseURL(url)
	c := redis.NewClient(opts)
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			redisURL = url
			return stop
		}
	}
	stop()
	redisMissing = "redis-server started but did not answer within 5s"
	return func() {}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 6390
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisOptions returns options for the test Redis with a prefix of the test's own, or skips the test when no
// Redis is available (and fails instead under CI=true).
func redisOptions(tb testing.TB) RedisOptions {
	tb.Helper()
	if redisURL == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis tests must run in CI: %s", redisMissing)
		}
		tb.Skip(redisMissing)
	}
	o, err := RedisOptionsFromURL(redisURL)
	if err != nil {
		tb.Fatal(err)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	o.Prefix = "aigwtest:" + hex.EncodeToString(id[:]) + ":"
	return o
}

func newRedisStore(tb testing.TB, o RedisOptions) *RedisStore {
	tb.Helper()
	s, err := NewRedisStore(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Destruct() })
	return s
}

// eachStore runs test against a fresh MemoryStore, a fresh RedisStore and a fresh RedisStore on a cluster.
func eachStore(t *testing.T, test func(t *testing.T, s Store)) {
	t.Run("memory", func(t *testing.T) { test(t, NewMemoryStore()) })
	t.Run("redis", func(t *testing.T) { test(t, newRedisStore(t, redisOptions(t))) })
	t.Run("redis-cluster", func(t *testing.T) { test(t, newRedisStore(t, clusterOptions(t))) })
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *clock {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &clock{t: t}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
