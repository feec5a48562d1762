package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var ctx = context.Background()

func mustLimiter(t testing.TB, s Store, c *clock, rules ...Rule) *Limiter {
	t.Helper()
	opts := Options{}
	if c != nil {
		opts.Now = c.Now
	}
	l, err := New(s, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reserve(t testing.TB, l *Limiter, claims ...Claim) *Reservation {
	t.Helper()
	r, err := l.Reserve(ctx, claims)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	return &r
}

func perMinute(n int64) Rate { return Rate{Limit: n, Window: time.Minute} }

func TestConcurrentRequestsExact(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		l := mustLimiter(t, s, nil, Rule{Name: "k", Requests: Rate{Limit: 50, Window: time.Hour}})
		if got := hammer(t, 200, l, l); got != 50 {
			t.Fatalf("%d of 200 concurrent requests passed a limit of 50", got)
		}
	})
}

func TestTwoGatewaysShareOneRedisLimit(t *testing.T) {
	o := redisOptions(t)
	rule := Rule{Name: "k", Requests: Rate{Limit: 50, Window: time.Hour}}
	a := mustLimiter(t, newRedisStore(t, o), nil, rule)
	b := mustLimiter(t, newRedisStore(t, o), nil, rule)
	if got := hammer(t, 200, a, b); got != 50 {
		t.Fatalf("%d of 200 requests spread over two gateways passed a combined limit of 50", got)
	}
}

// hammer sends n concurrent requests for the same key, alternating between two limiters, and returns how many
// were allowed.
func hammer(t *testing.T, n int, a, b *Limiter) int {
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			<-start
			r, err := l.Reserve(ctx, []Claim{{Rule: "k", Key: "Bearer sk-test"}})
			if err != nil {
				t.Error(err)
				return
			}
			if r.Allowed() {
				allowed.Add(1)
				if err := r.Settle(ctx, 0, 0); err != nil {
					t.Error(err)
				}
			} else if d := r.Denial(); d.Kind != KindRequests || d.RetryAfter <= 0 {
				t.Errorf("refusal %+v: want a requests limit with a retry-after", d)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

func TestSettleGivesBackUnusedTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c, Rule{Name: "tpm", Tokens: perMinute(1000)})
		claim := Claim{Rule: "tpm", Key: "alice", Tokens: 600}

		first := reserve(t, l, claim)
		if h := first.Headers().Tokens; !first.Allowed() || h.Remaining != 400 || h.Limit != 1000 {
			t.Fatalf("first reservation of 600: allowed=%v headers=%+v, want 400 remaining", first.Allowed(), h)
		}
		second := reserve(t, l, claim)
		if second.Allowed() {
			t.Fatal("600 more tokens passed with only 400 remaining")
		}
		// 200 tokens short at 1000/min drain in 12s.
		if d := second.Denial(); d.Kind != KindTokens || d.RetryAfter != 12*time.Second || d.Code() != "rate_limit_exceeded" {
			t.Fatalf("refusal %+v (code %s): want tokens, retry in 12s, rate_limit_exceeded", d, d.Code())
		}

		if err := first.Settle(ctx, 100, 0); err != nil {
			t.Fatal(err)
		}
		third := reserve(t, l, claim)
		if !third.Allowed() {
			t.Fatalf("after settling 600 reserved tokens to 100 used, 600 more were refused: %+v", third.Denial())
		}
		if h := third.Headers().Tokens; h.Remaining != 300 {
			t.Fatalf("remaining tokens %d, want 1000-100-600 = 300", h.Remaining)
		}
	})
}

func TestSettleChargesTokensBeyondTheEstimate(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c, Rule{Name: "tpm", Tokens: perMinute(1000)})
		r := reserve(t, l, Claim{Rule: "tpm", Key: "bob", Tokens: 100})
		if err := r.Settle(ctx, 1500, 0); err != nil {
			t.Fatal(err)
		}
		next := reserve(t, l, Claim{Rule: "tpm", Key: "bob", Tokens: 10})
		// Level 1500 must drain to 990: 510 tokens at 1000/min = 30.6s.
		if next.Allowed() || next.Denial().RetryAfter != 30600*time.Millisecond {
			t.Fatalf("after using 1500 of 1000 tokens: allowed=%v denial=%+v, want refused for 30.6s", next.Allowed(), next.Denial())
		}
		c.Advance(31 * time.Second)
		if r := reserve(t, l, Claim{Rule: "tpm", Key: "bob", Tokens: 10}); !r.Allowed() {
			t.Fatalf("still refused after the debt drained: %+v", r.Denial())
		}
	})
}

func TestCancelReturnsTheReservationOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c, Rule{Name: "rpm", Requests: perMinute(2), Tokens: perMinute(1000)})
		claim := Claim{Rule: "rpm", Key: "carol", Tokens: 400}
		a := reserve(t, l, claim)
		b := reserve(t, l, claim)
		if !a.Allowed() || !b.Allowed() {
			t.Fatal("two requests refused under a limit of 2")
		}
		for range 3 {
			if err := a.Cancel(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Settle(ctx, 900, 1); err != nil {
			t.Fatal(err)
		}
		cc := reserve(t, l, claim)
		if !cc.Allowed() {
			t.Fatalf("request refused after an earlier one was cancelled: %+v", cc.Denial())
		}
		if h := cc.Headers(); h.Requests.Remaining != 0 || h.Tokens.Remaining != 200 {
			t.Fatalf("headers %+v: a repeated Cancel or a Settle after Cancel changed the counters", h)
		}
		if d := reserve(t, l, claim); d.Allowed() {
			t.Fatal("a third request passed a limit of 2: Cancel gave back more than once")
		}
	})
}

func TestBudgetStopsAtSpendAndResumesNextPeriod(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-01-31T23:00:00Z")
		budget, _ := ParseBudget("1usd/1mo")
		l := mustLimiter(t, s, c, Rule{Name: "team", Budget: budget})
		claim := Claim{Rule: "team", Key: "team-a"}
		for i := range 3 {
			r := reserve(t, l, claim)
			if !r.Allowed() {
				t.Fatalf("request %d refused with %.1f USD of 1 spent", i+1, 0.4*float64(i))
			}
			if err := r.Settle(ctx, 10, 0.4); err != nil {
				t.Fatal(err)
			}
		}
		r := reserve(t, l, claim)
		if r.Allowed() {
			t.Fatal("request allowed with 1.2 USD spent of a 1 USD budget")
		}
		d := r.Denial()
		if d.Kind != KindBudget || d.Code() != "insufficient_quota" || d.Status() != http.StatusTooManyRequests || d.RetryAfter != time.Hour {
			t.Fatalf("refusal %+v: want budget, insufficient_quota, 429, retry in 1h (next month)", d)
		}
		if !strings.Contains(d.Message(), `"team"`) || strings.Contains(d.Message(), "team-a") {
			t.Fatalf("message %q should name the rule and not the key", d.Message())
		}
		if other := reserve(t, l, Claim{Rule: "team", Key: "team-b"}); !other.Allowed() {
			t.Fatal("another key's budget was spent by team-a")
		}
		c.Advance(time.Hour)
		if r := reserve(t, l, claim); !r.Allowed() {
			t.Fatalf("still refused in the next month: %+v", r.Denial())
		}
	})
}

func TestRefusalTakesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c,
			Rule{Name: "per-key", Requests: perMinute(10), Tokens: perMinute(10000)},
			Rule{Name: "per-model", Requests: perMinute(1)})
		claims := []Claim{{Rule: "per-key", Key: "dave", Tokens: 500}, {Rule: "per-model", Key: "openai/gpt-4o"}}
		reserve(t, l, claims...)
		for range 3 {
			r := reserve(t, l, claims...)
			if r.Allowed() || r.Denial().Rule != "per-model" || r.Denial().Kind != KindRequests {
				t.Fatalf("want refusal by per-model, got allowed=%v %+v", r.Allowed(), r.Denial())
			}
		}
		h := reserve(t, l, Claim{Rule: "per-key", Key: "dave", Tokens: 0}).Headers()
		if h.Requests.Remaining != 8 || h.Tokens.Remaining != 9500 {
			t.Fatalf("per-key headers %+v: refused requests were charged", h)
		}
	})
}

func TestFirstExceededLimitIsReported(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c,
			Rule{Name: "a", Requests: perMinute(1)},
			Rule{Name: "b", Requests: perMinute(100), Tokens: perMinute(50)})
		reserve(t, l, Claim{Rule: "a", Key: "x"})
		r := reserve(t, l, Claim{Rule: "b", Key: "x", Tokens: 60}, Claim{Rule: "a", Key: "x"})
		d := r.Denial()
		if r.Allowed() || d.Rule != "b" || d.Kind != KindTokens || !d.TooLarge {
			t.Fatalf("want the first claim's too-large token limit, got %+v", d)
		}
		if !strings.Contains(d.Message(), "60 tokens") {
			t.Fatalf("message %q should say how many tokens were asked for", d.Message())
		}
	})
}

func TestRequestRetryAfterAndHeaders(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		l := mustLimiter(t, s, c, Rule{Name: "rpm", Requests: perMinute(60)}, Rule{Name: "strict", Requests: perMinute(2)})
		r := reserve(t, l, Claim{Rule: "rpm", Key: "erin"})
		got := map[string]string{}
		r.Headers().Each(func(k, v string) { got[k] = v })
		want := map[string]string{"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s"}
		if len(got) != len(want) {
			t.Fatalf("headers %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		// With two request limits the tighter one is reported.
		r = reserve(t, l, Claim{Rule: "rpm", Key: "erin"}, Claim{Rule: "strict", Key: "erin"})
		if h := r.Headers().Requests; h.Limit != 2 || h.Remaining != 1 {
			t.Fatalf("headers %+v: want the strict limit, 1 of 2 remaining", h)
		}
		reserve(t, l, Claim{Rule: "strict", Key: "erin"})
		r = reserve(t, l, Claim{Rule: "strict", Key: "erin"})
		if r.Allowed() || r.Denial().RetryAfter != 30*time.Second {
			t.Fatalf("third request at 2/min: allowed=%v %+v, want retry in 30s", r.Allowed(), r.Denial())
		}
		c.Advance(30 * time.Second)
		if r := reserve(t, l, Claim{Rule: "strict", Key: "erin"}); !r.Allowed() {
			t.Fatalf("refused after the announced retry-after: %+v", r.Denial())
		}
	})
}

func TestStoreDown(t *testing.T) {
	down := RedisOptions{Address: "127.0.0.1:" + fmtInt(freePort()), DialTimeout: 200 * time.Millisecond}
	rule := Rule{Name: "rpm", Requests: perMinute(1)}
	claim := []Claim{{Rule: "rpm", Key: "frank"}}

	allow, _ := New(newRedisStore(t, down), []Rule{rule}, Options{})
	r, err := allow.Reserve(ctx, claim)
	var se *StoreError
	if !errors.As(err, &se) || !r.Allowed() {
		t.Fatalf("allow policy with Redis down: allowed=%v err=%v, want allowed and a *StoreError", r.Allowed(), err)
	}
	if h := r.Headers(); h.Requests.Present {
		t.Fatalf("headers %+v sent although no limit was checked", h)
	}
	if err := r.Settle(ctx, 10, 0.01); !errors.As(err, &se) {
		t.Fatalf("Settle with Redis down: %v, want a *StoreError", err)
	}

	deny, _ := New(newRedisStore(t, down), []Rule{rule}, Options{OnStoreError: DenyOnStoreError})
	r, err = deny.Reserve(ctx, claim)
	if !errors.As(err, &se) || r.Allowed() {
		t.Fatalf("deny policy with Redis down: allowed=%v err=%v", r.Allowed(), err)
	}
	if d := r.Denial(); d.Status() != http.StatusServiceUnavailable || d.Kind != KindStoreUnavailable || d.RetryAfter <= 0 {
		t.Fatalf("refusal %+v: want 503 store_unavailable with a retry-after", d)
	}
	if err := r.Cancel(ctx); err != nil {
		t.Fatalf("Cancel of a refused reservation: %v", err)
	}
}

func TestReloadKeepsMemoryCounters(t *testing.T) {
	s := NewMemoryStore()
	c := newClock("2026-03-10T12:00:00Z")
	old := mustLimiter(t, s, c, Rule{Name: "rpm", Requests: perMinute(5)})
	for range 3 {
		reserve(t, old, Claim{Rule: "rpm", Key: "gina"})
	}
	reloaded := mustLimiter(t, s, c, Rule{Name: "rpm", Requests: perMinute(4)})
	if r := reserve(t, reloaded, Claim{Rule: "rpm", Key: "gina"}); !r.Allowed() {
		t.Fatal("4th request refused under the reloaded limit of 4")
	}
	if r := reserve(t, reloaded, Claim{Rule: "rpm", Key: "gina"}); r.Allowed() {
		t.Fatal("5th request passed the reloaded limit of 4: counters were lost in the reload")
	}
	if err := s.Destruct(); err != nil || s.Len() != 0 {
		t.Fatalf("Destruct: err=%v, %d entries left", err, s.Len())
	}
}

func TestMemoryStoreForgetsIdleKeys(t *testing.T) {
	s := NewMemoryStore()
	c := newClock("2026-03-10T12:00:00Z")
	l := mustLimiter(t, s, c, Rule{Name: "rpm", Requests: perMinute(10)})
	for i := range 100 {
		reserve(t, l, Claim{Rule: "rpm", Key: "key" + fmtInt(i)})
	}
	c.Advance(time.Minute)
	for range 200 {
		reserve(t, l, Claim{Rule: "rpm", Key: "steady"})
	}
	if n := s.Len(); n > 20 {
		t.Fatalf("%d entries kept after 100 keys went idle, want the idle ones dropped", n)
	}
}

func TestRedisKeysAreHashed(t *testing.T) {
	o := redisOptions(t)
	s := newRedisStore(t, o)
	secret := "sk-proj-SECRETSECRET"
	budget, _ := ParseBudget("5usd/1d")
	l := mustLimiter(t, s, nil, Rule{Name: "per-key", Requests: perMinute(10), Tokens: perMinute(1000), Budget: budget})
	r := reserve(t, l, Claim{Rule: "per-key", Key: "Bearer " + secret, Tokens: 10})
	if err := r.Settle(ctx, 20, 0.01); err != nil {
		t.Fatal(err)
	}
	keys, err := s.client.Keys(ctx, o.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("keys %v: want a requests, a tokens and a budget key", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "SECRET") {
			t.Fatalf("Redis key %q contains the raw API key", k)
		}
		if ttl := s.client.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Fatalf("key %q has no expiry (ttl %v): counters would never go away", k, ttl)
		}
	}
}

func TestInvalidClaims(t *testing.T) {
	l := mustLimiter(t, NewMemoryStore(), nil, Rule{Name: "rpm", Requests: perMinute(1)})
	r, err := l.Reserve(ctx, []Claim{{Rule: "nope", Key: "k"}})
	if err == nil || r.Allowed() || r.Denial().Status() != http.StatusInternalServerError {
		t.Fatalf("unknown rule: allowed=%v err=%v", r.Allowed(), err)
	}
	r, err = l.Reserve(ctx, []Claim{{Rule: "rpm", Key: "k"}, {Rule: "rpm", Key: "k"}})
	if err == nil || r.Allowed() {
		t.Fatalf("duplicate claim: allowed=%v err=%v", r.Allowed(), err)
	}
	r, err = l.Reserve(ctx, nil)
	if err != nil || !r.Allowed() || r.Settle(ctx, 1, 1) != nil {
		t.Fatalf("no claims: allowed=%v err=%v, want allowed", r.Allowed(), err)
	}
	if _, err := New(NewMemoryStore(), []Rule{{Name: "a", Requests: perMinute(1)}, {Name: "a", Requests: perMinute(2)}}, Options{}); err == nil {
		t.Fatal("two rules with one name were accepted")
	}
	if _, err := New(NewMemoryStore(), []Rule{{Name: "empty"}}, Options{}); err == nil {
		t.Fatal("a rule without any limit was accepted")
	}
}

func TestManyClaimsInOneRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		var rules []Rule
		var claims []Claim
		for i := range 6 {
			name := "r" + fmtInt(i)
			rules = append(rules, Rule{Name: name, Requests: perMinute(int64(2 + i))})
			claims = append(claims, Claim{Rule: name, Key: "k"})
		}
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"), rules...)
		reserve(t, l, claims...)
		reserve(t, l, claims...)
		r := reserve(t, l, claims...)
		if r.Allowed() || r.Denial().Rule != "r0" {
			t.Fatalf("third request: allowed=%v %+v, want refusal by r0 (2/min)", r.Allowed(), r.Denial())
		}
		if h := reserve(t, l, claims[5]).Headers().Requests; h.Remaining != 4 {
			t.Fatalf("r5 remaining %d, want 7-3 = 4", h.Remaining)
		}
	})
}

func fmtInt(n int) string { return strconv.Itoa(n) }
