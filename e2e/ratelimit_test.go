package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// perKeyLimit is a rate_limit block allowing n requests a minute per Authorization header.
func perKeyLimit(n int) string {
	return fmt.Sprintf("rate_limit per_key {\n\tkey {http.request.header.Authorization}\n\trequests %d/1m\n}\n", n)
}

// redisStore is a rate_limit_store block for r, with an on_store_error line when policy is not empty.
func redisStore(r *redisProc, policy string) string {
	s := fmt.Sprintf("rate_limit_store redis {\n\taddress %s\n}\n", r.addr)
	if policy != "" {
		s += "on_store_error " + policy + "\n"
	}
	return s
}

// TestRateLimitSharedThroughRedis checks issue 6's cluster case: two Caddy processes sharing one Redis
// enforce one combined limit per key.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	requireE2E(t)
	redis := startRedis(t)
	sim := startSimulator(t, "simulator", "")
	cfg := gatewayConfig(simProvider("sim", sim, "") + perKeyLimit(10) + redisStore(redis, ""))
	gws := []*caddyProc{startCaddy(t, "gateway-a", cfg), startCaddy(t, "gateway-b", cfg)}
	c := newClient(t)

	const total = 40
	answers := make([]*answer, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			answers[i] = chat(context.Background(), c, gws[i%2], chatBody("sim/gpt-4o-mini", i%4 == 1),
				"Authorization", "Bearer key-shared")
		})
	}
	wg.Wait()

	ok, limited := 0, 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok++
			if !a.succeeded() {
				t.Errorf("request %d: 200 but not a complete answer: %s", i, a.describe())
			}
			if got := a.header.Get("X-Ratelimit-Limit-Requests"); got != "10" {
				t.Errorf("request %d: a successful answer has x-ratelimit-limit-requests %q, want 10", i, got)
			}
		case http.StatusTooManyRequests:
			limited++
			checkRateLimited(t, a, "rate_limit_exceeded")
		default:
			t.Errorf("request %d: %s; want 200 or 429", i, a.describe())
		}
	}
	if ok != 10 || limited != total-10 {
		t.Errorf("%d requests with one key over two gateways sharing Redis: %d succeeded and %d were limited; "+
			"want exactly 10 and %d (one combined limit of 10/1m)", total, ok, limited, total-10)
	}

	for _, gw := range gws {
		if a := chat(context.Background(), c, gw, chatBody("sim/gpt-4o-mini", false), "Authorization", "Bearer key-other"); !a.succeeded() {
			t.Errorf("%s: another key must not be limited by the first one's requests; got %s", gw.name, a.describe())
		}
	}
}

// checkRateLimited checks a refusal as an OpenAI SDK reads it: a 429 rate_limit_error with code, retry-after
// and the x-ratelimit-*-requests trio.
func checkRateLimited(t *testing.T, a *answer, code string) {
	t.Helper()
	e := gjson.GetBytes(a.body, "error")
	if a.status != http.StatusTooManyRequests || e.Get("type").Str != "rate_limit_error" || e.Get("code").Str != code ||
		e.Get("message").Str == "" {
		t.Errorf("want 429 rate_limit_error with code %s and a message, got %s", code, a.describe())
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("retry-after = %q, want a positive number of seconds", a.header.Get("Retry-After"))
	}
	if code != "rate_limit_exceeded" {
		return
	}
	if got := a.header.Get("X-Ratelimit-Limit-Requests"); got != "10" && got != "5" {
		t.Errorf("x-ratelimit-limit-requests = %q, want the configured limit", got)
	}
	if got := a.header.Get("X-Ratelimit-Remaining-Requests"); got != "0" {
		t.Errorf("x-ratelimit-remaining-requests = %q, want 0", got)
	}
	if d, err := time.ParseDuration(a.header.Get("X-Ratelimit-Reset-Requests")); err != nil || d <= 0 {
		t.Errorf("x-ratelimit-reset-requests = %q, want a positive Go duration", a.header.Get("X-Ratelimit-Reset-Requests"))
	}
}

// TestRateLimitKeptAcrossReload checks that in-memory counters survive a config reload through the admin API.
func TestRateLimitKeptAcrossReload(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	body := simProvider("sim", sim, "") + perKeyLimit(5)
	gw := startCaddy(t, "gateway", gatewayConfig(body))
	c := newClient(t)
	ctx := context.Background()
	for i := range 3 {
		if a := chat(ctx, c, gw, chatBody("sim/gpt-4o-mini", false), "Authorization", "Bearer key-reload"); !a.succeeded() {
			t.Fatalf("request %d of 5 allowed: %s", i+1, a.describe())
		}
	}

	// The reloaded config differs only by an alias, which also proves that it was loaded.
	gw.reload(gatewayConfig(body + "alias reloaded sim/gpt-4o-mini\n"))
	// The old config's server closes its keep-alive connections as it shuts down: start afresh rather than
	// race it with a POST, which the client would not retry.
	c.CloseIdleConnections()

	var statuses []int
	for range 4 {
		a := chat(ctx, c, gw, chatBody("reloaded", false), "Authorization", "Bearer key-reload")
		statuses = append(statuses, a.status)
		if a.status == http.StatusTooManyRequests {
			checkRateLimited(t, a, "rate_limit_exceeded")
		} else if !a.succeeded() {
			t.Fatalf("after the reload: %s", a.describe())
		}
	}
	if fmt.Sprint(statuses) != "[200 200 429 429]" {
		t.Errorf("after 3 of 5 requests and a reload, the next 4 got %v; want [200 200 429 429] (counters kept "+
			"across the reload)", statuses)
	}
}

// TestRateLimitStoreDown checks on_store_error: with Redis gone, allow serves and logs loudly, deny answers
// 503.
func TestRateLimitStoreDown(t *testing.T) {
	requireE2E(t)
	redis := startRedis(t)
	sim := startSimulator(t, "simulator", "")
	allow := startCaddy(t, "gateway-allow", gatewayConfig(simProvider("sim", sim, "")+perKeyLimit(100)+redisStore(redis, "allow")))
	deny := startCaddy(t, "gateway-deny", gatewayConfig(simProvider("sim", sim, "")+perKeyLimit(100)+redisStore(redis, "deny")))
	c := newClient(t)
	ctx := context.Background()
	for _, gw := range []*caddyProc{allow, deny} {
		if a := chat(ctx, c, gw, chatBody("sim/gpt-4o-mini", false), "Authorization", "Bearer key-down"); !a.succeeded() {
			t.Fatalf("%s with Redis up: %s", gw.name, a.describe())
		}
	}
	const loud = "RATE LIMIT STORE UNAVAILABLE"
	if n := len(allow.logEntries(loud)); n != 0 {
		t.Fatalf("%s logged %d %q lines while Redis was up", allow.name, n, loud)
	}

	redis.kill()

	for _, stream := range []bool{false, true} {
		if a := chat(ctx, c, allow, chatBody("sim/gpt-4o-mini", stream), "Authorization", "Bearer key-down"); !a.succeeded() {
			t.Errorf("on_store_error allow with Redis down (stream %v): %s; want a served 200", stream, a.describe())
		}
		a := chat(ctx, c, deny, chatBody("sim/gpt-4o-mini", stream), "Authorization", "Bearer key-down")
		if a.status != http.StatusServiceUnavailable || gjson.GetBytes(a.body, "error.message").Str == "" {
			t.Errorf("on_store_error deny with Redis down (stream %v): %s; want 503 with an OpenAI error body", stream, a.describe())
		}
	}
	allow.waitLog(loud, 1, nil)
	deny.waitLog(loud, 1, nil)
}

// TestBudget checks that spend stops requests, streamed or not, once it reaches the budget.
func TestBudget(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	// Every answer is 9 words, which OpenAI reports as 10 completion tokens: at $4 per million output tokens
	// and free input, each request costs $0.00004 and, with max_tokens 12, reserves $0.000048 at admission.
	// A $0.0001 budget admits two: 0 and 0.00004 spent leave room for 0.000048; 0.00008 does not.
	gw := startCaddy(t, "gateway", gatewayConfig(simProvider("sim", sim, "completion_tokens=9")+
		"price sim/* input 0 output 4\n"+
		"rate_limit spend {\n\tkey {http.request.header.Authorization}\n\tbudget 0.0001usd/1mo\n}\n"))
	c := newClient(t)
	ctx := context.Background()
	send := func(stream bool, key string) *answer {
		return chat(ctx, c, gw, budgetBody(stream), "Authorization", "Bearer "+key)
	}

	a := send(false, "key-budget")
	if !a.succeeded() || a.header.Get("X-AI-Gateway-Cost") != "0.00004" {
		t.Fatalf("first request: %s, X-AI-Gateway-Cost %q; want 200 costing 0.00004", a.describe(), a.header.Get("X-AI-Gateway-Cost"))
	}
	a = send(true, "key-budget")
	if !a.succeeded() || a.usage.Get("cost").Float() != 0.00004 {
		t.Fatalf("streamed request under the budget: %s; want a complete stream whose usage costs 0.00004", a.describe())
	}
	for _, stream := range []bool{true, false} {
		a := send(stream, "key-budget")
		if a.status != http.StatusTooManyRequests {
			t.Errorf("request that the rest of the budget cannot cover (stream %v): %s; want 429 insufficient_quota", stream, a.describe())
			continue
		}
		checkRateLimited(t, a, "insufficient_quota")
	}
	if a := send(true, "key-fresh"); !a.succeeded() {
		t.Errorf("another key has its own budget: %s", a.describe())
	}
}

// budgetBody is chatBody with max_tokens 12, so that a request reserves a known worst case.
func budgetBody(stream bool) string {
	b := chatBody("sim/gpt-4o-mini", stream)
	return b[:len(b)-1] + `,"max_tokens":12}`
}

// TestBudgetHoldsUnderConcurrency sends 100 concurrent requests for one key against a budget that covers
// five, to one gateway with the memory store and to two gateways sharing Redis: what they spend together
// never exceeds the budget.
func TestBudgetHoldsUnderConcurrency(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	body := simProvider("sim", sim, "completion_tokens=9") + "price sim/* input 0 output 4\n" +
		"rate_limit spend {\n\tkey {http.request.header.Authorization}\n\tbudget 0.0002usd/1mo\n}\n"
	redis := startRedis(t)
	for _, tc := range []struct {
		name string
		gws  []*caddyProc
	}{
		{"memory", []*caddyProc{startCaddy(t, "gateway-memory", gatewayConfig(body))}},
		{"redis", []*caddyProc{startCaddy(t, "gateway-redis-a", gatewayConfig(body+redisStore(redis, ""))),
			startCaddy(t, "gateway-redis-b", gatewayConfig(body+redisStore(redis, "")))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			const total = 100
			answers := make([]*answer, total)
			var wg sync.WaitGroup
			for i := range total {
				wg.Go(func() {
					answers[i] = chat(context.Background(), c, tc.gws[i%len(tc.gws)], budgetBody(i%2 == 1),
						"Authorization", "Bearer key-concurrent")
				})
			}
			wg.Wait()
			spent, ok := 0.0, 0
			for i, a := range answers {
				switch {
				case a.succeeded():
					ok++
					if a.events != nil {
						spent += a.usage.Get("cost").Float()
					} else {
						cost, _ := strconv.ParseFloat(a.header.Get("X-AI-Gateway-Cost"), 64)
						spent += cost
					}
				case a.status == http.StatusTooManyRequests:
					checkRateLimited(t, a, "insufficient_quota")
				default:
					t.Errorf("request %d: %s; want 200 or 429 insufficient_quota", i, a.describe())
				}
			}
			if spent > 0.0002+1e-12 || ok == 0 {
				t.Fatalf("%d concurrent requests against a 0.0002 USD budget: %d answered, spending %.6f USD; want at most 0.0002",
					total, ok, spent)
			}
		})
	}
}
