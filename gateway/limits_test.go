package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

func mustRateLimiter(t *testing.T, rules ...ratelimit.Rule) *ratelimit.Limiter {
	t.Helper()
	lim, err := ratelimit.New(ratelimit.NewMemoryStore(), rules, ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

// answer replies with an OpenAI completion reporting the given usage.
func answer(prompt, completion int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, prompt, completion, prompt+completion)
	}
}

func TestSecondAuthorizationHeaderIsRefused(t *testing.T) {
	base, seen := fakeUpstream(t, answer(1, 1))
	for _, keys := range [][]string{nil, {"k1"}} {
		g := newGateway(t, base, func(c *Config) { c.ClientKeys = keys })
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Add("Authorization", "Bearer k1")
		req.Header.Add("Authorization", "junk1")
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.type").Str != "invalid_request_error" ||
			!strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, "Authorization") {
			t.Fatalf("client keys %v, two Authorization headers: %d %s, want a 400 naming the header", keys, rec.Code, rec.Body)
		}
	}
	select {
	case <-seen:
		t.Fatal("a request with two Authorization headers reached the upstream")
	default:
	}
}

// TestLimitsKeyOnTheAuthenticatedIdentity: the identity handed to the claims is the same however the client
// spells its header, differs between keys, and never contains the key.
func TestLimitsKeyOnTheAuthenticatedIdentity(t *testing.T) {
	base, _ := fakeUpstream(t, answer(1, 1))
	var mu sync.Mutex
	var ids []string
	g := newGateway(t, base, func(c *Config) {
		c.ClientKeys = []string{"secret-key-one", "secret-key-two"}
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "per-key", Requests: ratelimit.Rate{Limit: 1, Window: time.Hour}})
		c.Claims = func(r *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			mu.Lock()
			ids = append(ids, s.ClientKey)
			mu.Unlock()
			return []ratelimit.Claim{{Rule: "per-key", Key: s.ClientKey}}
		}
	})
	body := `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`
	if rec := post(t, g, body, "Authorization", "Bearer secret-key-one"); rec.Code != 200 {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	rec := post(t, g, body, "Authorization", "Bearer    secret-key-one  ")
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), `per-key`) {
		t.Fatalf("the same key with extra spaces: %d %s, want 429 from per-key", rec.Code, rec.Body)
	}
	if rec := post(t, g, body, "Authorization", "Bearer secret-key-two"); rec.Code != 200 {
		t.Fatalf("another key must have its own counter: %d %s", rec.Code, rec.Body)
	}
	if len(ids) < 3 || ids[0] != ids[1] || ids[0] == ids[2] || !strings.HasPrefix(ids[0], "key-") {
		t.Fatalf("identities %q: want one stable key-… id per client key", ids)
	}
	for _, id := range ids {
		if strings.Contains(id, "secret") {
			t.Fatalf("identity %q contains the key", id)
		}
	}
	var res Result
	req, _ := http.NewRequest(http.MethodGet, "http://gw/v1/models", nil)
	req.Header.Set("Authorization", "Bearer secret-key-two")
	res = *g.Serve(httptest.NewRecorder(), req)
	if res.ClientKey != ids[2] {
		t.Fatalf("Result.ClientKey %q, want %q", res.ClientKey, ids[2])
	}
}

func TestNIsValidatedAndCounted(t *testing.T) {
	var calls atomic.Int32
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		calls.Add(1)
		answer(5, 10)(w, r, b)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = append(c.Providers,
			Provider{Name: "anthropic", BaseURL: base, APIKeys: []string{"a"}, Dialect: transform.NewAnthropic(transform.AnthropicOptions{})},
			Provider{Name: "ollama", BaseURL: base, Dialect: transform.NewOllama(transform.OllamaOptions{})})
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "tpm", Tokens: ratelimit.Rate{Limit: 1000, Window: time.Hour}})
		c.Claims = func(r *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "tpm", Key: "all"}}
		}
	})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, why string }{
		{`{"model":"openai/x","n":9,` + msgs + `}`, "n above the default max_n of 8"},
		{`{"model":"openai/x","n":0,` + msgs + `}`, "n of 0"},
		{`{"model":"openai/x","n":1.5,` + msgs + `}`, "a fractional n"},
		{`{"model":"openai/x","n":"2",` + msgs + `}`, "n as a string"},
		{`{"model":"anthropic/claude","max_tokens":10,"n":2,` + msgs + `}`, "n > 1 for Anthropic"},
		{`{"model":"ollama/llama3","max_tokens":10,"n":2,` + msgs + `}`, "n > 1 for Ollama's native API"},
	} {
		rec := post(t, g, tc.body)
		if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.param").Str != "n" ||
			gjson.Get(rec.Body.String(), "error.type").Str != "invalid_request_error" {
			t.Errorf("%s: %d %s, want a 400 invalid_request_error naming n", tc.why, rec.Code, rec.Body)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("%d refused requests reached the upstream", calls.Load())
	}
	// 4 choices of up to 300 tokens need 1200 tokens (plus the prompt) of a 1000 tokens/h limit.
	rec := post(t, g, `{"model":"openai/x","n":4,"max_tokens":300,`+msgs+`}`)
	if rec.Code != http.StatusTooManyRequests || gjson.Get(rec.Body.String(), "error.code").Str != "rate_limit_exceeded" {
		t.Fatalf("n=4 × max_tokens=300 against 1000 tokens/h: %d %s, want 429", rec.Code, rec.Body)
	}
	if rec := post(t, g, `{"model":"openai/x","n":3,"max_tokens":300,`+msgs+`}`); rec.Code != 200 {
		t.Fatalf("n=3 × max_tokens=300 against 1000 tokens/h: %d %s", rec.Code, rec.Body)
	}
	// Without max_tokens, n times the default estimate of 1024 is reserved.
	rec = post(t, g, `{"model":"openai/x","n":2,`+msgs+`}`)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("n=2 without max_tokens against what is left of 1000 tokens/h: %d %s, want 429", rec.Code, rec.Body)
	}
	g.cfg.MaxN = 2
	if rec := post(t, g, `{"model":"openai/x","n":3,`+msgs+`}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), "1 to 2") {
		t.Fatalf("n=3 with max_n 2: %d %s", rec.Code, rec.Body)
	}
}

// globClaims emulates the Caddy module: the rule applies to a client-facing name or target matching glob.
func globClaims(rule, glob string) func(*http.Request, LimitScope) []ratelimit.Claim {
	return func(_ *http.Request, s LimitScope) []ratelimit.Claim {
		m1, _ := path.Match(glob, s.Model)
		m2, _ := path.Match(glob, s.Target)
		if m1 || m2 {
			return []ratelimit.Claim{{Rule: rule, Key: "k"}}
		}
		return nil
	}
}

func TestModelRulesApplyToEveryTargetTried(t *testing.T) {
	var openaiCalls atomic.Int32
	openaiURL, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		openaiCalls.Add(1)
		answer(1, 1)(w, r, b)
	})
	var otherOK atomic.Bool
	otherURL, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		if !otherOK.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		answer(1, 1)(w, r, b)
	})
	g := newGateway(t, openaiURL, func(c *Config) {
		c.Providers = append(c.Providers, Provider{Name: "other", BaseURL: otherURL,
			Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
		c.Aliases = map[string]string{"fast": "openai/gpt-4o-mini"}
		c.Routes = []router.RouteConfig{{Name: "smart", Tiers: [][]router.WeightedTarget{
			{{Model: "openai/gpt-4o-mini"}}, {{Model: "other/m"}}}}}
		c.Retry = router.RetryPolicy{MaxAttempts: 3, MaxRetryAfter: time.Nanosecond}
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "openai-cap", Requests: ratelimit.Rate{Limit: 1, Window: time.Hour}})
		c.Claims = globClaims("openai-cap", "openai/*")
	})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	if rec := post(t, g, `{"model":"fast",`+msgs+`}`); rec.Code != 200 {
		t.Fatalf("first request through the alias: %d %s", rec.Code, rec.Body)
	}
	// The alias, and a fallback list after a failing model, both reach openai/*: the rule refuses them.
	for _, body := range []string{`{"model":"fast",` + msgs + `}`, `{"model":"other/m","models":["openai/gpt-4o"],` + msgs + `}`} {
		rec := post(t, g, body)
		if rec.Code != http.StatusTooManyRequests || !strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, `"openai-cap"`) {
			t.Fatalf("%s: %d %s, want 429 naming the rule openai-cap", body, rec.Code, rec.Body)
		}
	}
	if n := openaiCalls.Load(); n != 1 {
		t.Fatalf("openai was called %d times past a limit of 1 request", n)
	}
	// A route skips the refused target and answers from the next tier.
	otherOK.Store(true)
	rec := post(t, g, `{"model":"smart",`+msgs+`}`)
	if rec.Code != 200 || rec.Header().Get("X-AI-Gateway-Provider") != "other" {
		t.Fatalf("route with its first target over its limit: %d %v %s, want 200 from other", rec.Code, rec.Header(), rec.Body)
	}
	if n := openaiCalls.Load(); n != 1 {
		t.Fatalf("openai was called %d times past a limit of 1 request", n)
	}
}

// TestConcurrentRequestsStayWithinBudget holds 100 concurrent requests at the upstream until every one has
// either arrived there or been refused: only what the budget covers in the worst case may arrive.
func TestConcurrentRequestsStayWithinBudget(t *testing.T) {
	var arrived, refused atomic.Int32
	release := make(chan struct{})
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		arrived.Add(1)
		<-release
		answer(10, 100)(w, r, b)
	})
	budget, _ := ratelimit.ParseBudget("0.05usd/1d")
	prices, err := usage.NewPriceTable([]usage.PriceRule{{Pattern: "openai/*", Price: usage.Price{Input: 0, Output: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, base, func(c *Config) {
		c.Prices = prices
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "team", Budget: budget})
		c.Claims = func(r *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "team", Key: "team"}}
		}
	})
	// Each request may cost 100 output tokens at 100 USD per million: 0.01 USD.
	body := `{"model":"openai/gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	var spentNano atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			var res Result
			rec := serveRecorded(g, body, &res)
			switch rec.Code {
			case http.StatusOK:
				spentNano.Add(int64(res.CostUSD*1e9 + 0.5))
			case http.StatusTooManyRequests:
				if gjson.Get(rec.Body.String(), "error.code").Str != "insufficient_quota" {
					t.Errorf("refusal %s: want insufficient_quota", rec.Body)
				}
				refused.Add(1)
			default:
				t.Errorf("%d %s", rec.Code, rec.Body)
				refused.Add(1)
			}
		})
	}
	for arrived.Load()+refused.Load() < 100 {
		time.Sleep(time.Millisecond) // not a deadline: waits for every request to reach the upstream or be refused
	}
	close(release)
	wg.Wait()
	if spent := float64(spentNano.Load()) / 1e9; spent > 0.05+1e-9 || arrived.Load() != 5 {
		t.Fatalf("%d concurrent requests reached the upstream and spent %.4f USD of a 0.05 USD budget, want 5 and at most 0.05",
			arrived.Load(), spent)
	}
}

func TestNReachesGeminiAsCandidateCount(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = []Provider{{Name: "google", BaseURL: base, APIKeys: []string{"g"}, Dialect: transform.NewGemini(transform.GeminiOptions{})}}
		c.Retry = router.RetryPolicy{MaxAttempts: 1}
	})
	post(t, g, `{"model":"google/gemini-2.5-flash","n":3,"messages":[{"role":"user","content":"hi"}]}`)
	if up := <-seen; gjson.GetBytes(up.body, "generationConfig.candidateCount").Int() != 3 {
		t.Fatalf("upstream body %s: want generationConfig.candidateCount 3", up.body)
	}
	rec := post(t, g, `{"model":"google/gemini-2.5-flash","n":3,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.param").Str != "n" {
		t.Fatalf("n=3 streamed from Gemini: %d %s, want a 400 naming n", rec.Code, rec.Body)
	}
}
