package aigateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/aibackend/caddy-ai-gateway/gateway"
)

// provisionCaddyfile provisions a handler from the body of an ai_gateway block in front of one OpenAI
// upstream named openai.
func provisionCaddyfile(t *testing.T, body string) *Handler {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	t.Cleanup(up.Close)
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\nprovider openai {\nbase_url " + up.URL + "\n}\n" + body + "\n}")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

func serveChat(t *testing.T, h *Handler, body string, auth ...string) (*httptest.ResponseRecorder, *caddy.Replacer) {
	t.Helper()
	repl := caddy.NewReplacer()
	req := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)), repl, nil, &caddyhttp.Server{})
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		t.Fatal(err)
	}
	return rec, repl
}

// TestClientKeyPlaceholderKeysRateLimits: a limit keyed on {http.ai_gateway.client_key} cannot be slipped
// past by spelling the Authorization header differently or adding a second one.
func TestClientKeyPlaceholderKeysRateLimits(t *testing.T) {
	h := provisionCaddyfile(t, `client_keys alpha-secret-key beta-secret-key
rate_limit per_key {
	key {http.ai_gateway.client_key}
	requests 1/1h
}`)
	const body = `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	rec, repl := serveChat(t, h, body, "Bearer alpha-secret-key")
	id, _ := repl.GetString("http.ai_gateway.client_key")
	if rec.Code != 200 || !strings.HasPrefix(id, "key-") || strings.Contains(id, "alpha") {
		t.Fatalf("first request: %d, {http.ai_gateway.client_key} = %q: want 200 and a key-… identity", rec.Code, id)
	}
	for _, auth := range [][]string{{"Bearer   alpha-secret-key "}, {"Bearer alpha-secret-key", "junk1"}} {
		if rec, _ := serveChat(t, h, body, auth...); rec.Code != http.StatusTooManyRequests && rec.Code != http.StatusBadRequest {
			t.Fatalf("Authorization %q slipped past a limit of 1 request: %d %s", auth, rec.Code, rec.Body)
		}
	}
	rec, repl = serveChat(t, h, body, "Bearer beta-secret-key")
	other, _ := repl.GetString("http.ai_gateway.client_key")
	if rec.Code != 200 || other == id || other == "" {
		t.Fatalf("another key: %d, identity %q (first %q): want 200 and its own identity", rec.Code, other, id)
	}
}

func TestRateLimitMatchCoversTargetsAndFallbacks(t *testing.T) {
	h := &Handler{RateLimits: []*RateLimit{
		{Key: "{http.ai_gateway.model}", MatchModels: nil},
		{Key: "openai", MatchModels: []string{"openai/*"}},
		{Key: "cheap", MatchModels: []string{"cheap"}},
	}}
	for i, name := range []string{"everything", "openai", "cheap"} {
		h.RateLimits[i].Name = name
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	rules := func(s gateway.LimitScope) string {
		var names []string
		for _, c := range h.claims(req, s) {
			names = append(names, c.Rule+"="+c.Key)
		}
		return strings.Join(names, " ")
	}
	for _, tc := range []struct {
		scope gateway.LimitScope
		want  string
	}{
		{gateway.LimitScope{Model: "fast"}, "everything=fast"},
		{gateway.LimitScope{Model: "openai/gpt-4o"}, "everything=openai/gpt-4o openai=openai"},
		{gateway.LimitScope{Model: "fast", Target: "openai/gpt-4o-mini"}, "openai=openai"},
		{gateway.LimitScope{Model: "cheap", Target: "groq/llama"}, "cheap=cheap"},
		{gateway.LimitScope{Model: "fast", Target: "groq/llama"}, ""},
	} {
		if got := rules(tc.scope); got != tc.want {
			t.Errorf("%+v: claims %q, want %q", tc.scope, got, tc.want)
		}
	}
}

func TestCaddyfileMaxN(t *testing.T) {
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\nmax_n 4\n}")); err != nil || h.MaxN != 4 {
		t.Fatalf("max_n 4: %v, MaxN %d", err, h.MaxN)
	}
	if err := (&Handler{Providers: []*ProviderConfig{{Name: "openai"}}, MaxN: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "max_n") {
		t.Errorf("JSON max_n -1: %v, want an error naming max_n", err)
	}
	for _, bad := range []string{"max_n 0", "max_n -1", "max_n two", "max_n"} {
		if err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\n" + bad + "\n}")); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
