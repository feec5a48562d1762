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
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestServeHTTPPublishesPlaceholdersAndMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	defer up.Close()
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\nprovider openai {\nbase_url " + up.URL + "\nmodels gpt-4o-mini\n}\n}")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()

	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	serve := func(method, path, body string) (*httptest.ResponseRecorder, *caddy.Replacer) {
		repl := caddy.NewReplacer()
		req := caddyhttp.PrepareRequest(httptest.NewRequest(method, path, strings.NewReader(body)), repl, nil, &caddyhttp.Server{})
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, req, next); err != nil {
			t.Fatal(err)
		}
		return rec, repl
	}
	rec, repl := serve(http.MethodPost, "/v1/assistants", `{}`)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"code":"unknown_url"`) {
		t.Fatalf("a path the gateway does not serve must get a 404 unknown_url, not the next handler: %d %s", rec.Code, rec.Body)
	}
	if got, _ := repl.GetString("http.ai_gateway.status"); got != "404" {
		t.Errorf("{http.ai_gateway.status} = %q for an unknown path, want 404", got)
	}
	h.Fallthrough = true
	if rec, _ := serve(http.MethodPost, "/v1/assistants", `{}`); rec.Code != http.StatusTeapot {
		t.Fatalf("with fallthrough, other paths must reach the next handler: %d", rec.Code)
	}
	if rec, _ := serve(http.MethodPost, "/v1/embeddings", `{"model":"openai/gpt-4o-mini"}`); rec.Code == http.StatusTeapot {
		t.Fatalf("with fallthrough, gateway endpoints must still be served")
	}
	h.Fallthrough = false
	rec, repl = serve(http.MethodPost, "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	for name, want := range map[string]string{"provider": "openai", "model": "openai/gpt-4o-mini", "upstream_model": "gpt-4o-mini",
		"prompt_tokens": "9", "completion_tokens": "2", "total_tokens": "11", "usage_origin": "reported", "status": "200", "attempts": "1",
		"endpoint": "chat_completions"} {
		if got, _ := repl.GetString("http.ai_gateway." + name); got != want {
			t.Errorf("{http.ai_gateway.%s} = %q, want %q", name, got, want)
		}
	}
	if cost, _ := repl.GetString("http.ai_gateway.cost"); cost == "" {
		t.Errorf("gpt-4o-mini has a default price: the cost placeholder is empty")
	}
	if n := testutil.ToFloat64(h.metrics.requests.WithLabelValues("chat_completions", "openai", "openai/gpt-4o-mini", "200")); n != 1 {
		t.Errorf("requests_total = %v", n)
	}
	if n := testutil.ToFloat64(h.metrics.tokens.WithLabelValues("chat_completions", "openai", "openai/gpt-4o-mini", "completion", "reported")); n != 2 {
		t.Errorf("completion tokens_total = %v", n)
	}
}

func TestCaddyfileFallthrough(t *testing.T) {
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\nfallthrough\n}")); err != nil || !h.Fallthrough {
		t.Fatalf("fallthrough: %v %v", err, h.Fallthrough)
	}
	if err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\nfallthrough on\n}")); err == nil {
		t.Fatal("fallthrough takes no argument")
	}
}
