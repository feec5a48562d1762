package ratelimit

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// commandCounter counts the commands a client sends.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestRedisOneRoundTripPerCall(t *testing.T) {
	s := newRedisStore(t, redisOptions(t))
	var count commandCounter
	s.client.AddHook(&count)
	budget, _ := ParseBudget("10usd/1d")
	l := mustLimiter(t, s, nil,
		Rule{Name: "a", Requests: perMinute(1000), Tokens: perMinute(100000), Budget: budget},
		Rule{Name: "b", Requests: perMinute(1000)})
	claims := []Claim{{Rule: "a", Key: "k", Tokens: 100}, {Rule: "b", Key: "m"}}
	reserve(t, l, claims...).Cancel(ctx) // loads the scripts
	count.n.Store(0)
	for range 10 {
		r := reserve(t, l, claims...)
		if err := r.Settle(ctx, 50, 0.001); err != nil {
			t.Fatal(err)
		}
	}
	if n := count.n.Load(); n != 20 {
		t.Fatalf("10 Reserve+Settle pairs sent %d commands, want 20 (one script call each)", n)
	}
}

func TestRedisSurvivesScriptFlush(t *testing.T) {
	s := newRedisStore(t, redisOptions(t))
	l := mustLimiter(t, s, nil, Rule{Name: "rpm", Requests: perMinute(2)})
	reserve(t, l, Claim{Rule: "rpm", Key: "k"})
	if err := s.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if r := reserve(t, l, Claim{Rule: "rpm", Key: "k"}); !r.Allowed() {
		t.Fatal("second request refused after SCRIPT FLUSH")
	}
	if r := reserve(t, l, Claim{Rule: "rpm", Key: "k"}); r.Allowed() {
		t.Fatal("third request passed a limit of 2 after SCRIPT FLUSH")
	}
}

func TestSettleSurvivesClientDisconnect(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"), Rule{Name: "tpm", Tokens: perMinute(1000)})
		reqCtx, cancel := context.WithCancel(ctx)
		r, err := l.Reserve(reqCtx, []Claim{{Rule: "tpm", Key: "k", Tokens: 100}})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := r.Settle(reqCtx, 900, 0); err != nil {
			t.Fatalf("Settle after the client went away: %v", err)
		}
		if h := reserve(t, l, Claim{Rule: "tpm", Key: "k", Tokens: 0}).Headers().Tokens; h.Remaining != 100 {
			t.Fatalf("remaining %d, want 100: the usage of a disconnected client was not charged", h.Remaining)
		}
	})
}

// A Redis URL carries its password: an error about it must not quote it, as it goes to Caddy's log.
func TestRedisURLErrorDoesNotQuoteThePassword(t *testing.T) {
	for _, u := range []string{"redis://user:s3cret-pass@host:port/0", "redis://:s3cret-pass@ho st:6379/0",
		"redis://:s3cret-pass@[::1/0"} {
		_, err := RedisOptionsFromURL(u)
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		if strings.Contains(err.Error(), "s3cret-pass") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}
