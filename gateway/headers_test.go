package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// hostileHeaders are client headers that must never reach an upstream unless the operator names them in
// forward_headers: billed feature switches, origin spoofing, foreign credentials, and framing that does not
// match the body the gateway sends.
var hostileHeaders = []string{
	"Anthropic-Beta", "anthropic-beta-extra",
	"True-Client-Ip", "X-Auth-Token", "Ocp-Apim-Subscription-Key", "Authentication", "Cookie2",
	"Content-Encoding", "Openai-Beta", "X-Stainless-Lang", "X-Custom",
	"Cookie", "X-Api-Key", "Api-Key", "X-Goog-Api-Key", "X-Forwarded-For", "X-Real-Ip", "Forwarded",
}

// clientRequest is a request as an SDK behind a proxy might send it.
func clientRequest(body string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	for _, h := range hostileHeaders {
		req.Header.Set(h, "client-"+strings.ToLower(h))
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer client-key")
	req.Header.Set("User-Agent", "sdk/1.0")
	req.Header.Set("Accept-Language", "fr")
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set("X-Client-Request-Id", "creq-1")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "vendor=1")
	return req
}

var allowedHeaders = map[string]string{
	"User-Agent": "sdk/1.0", "Accept-Language": "fr", "X-Request-Id": "req-1", "X-Client-Request-Id": "creq-1",
	"Traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "Tracestate": "vendor=1",
}

func TestUpstreamHeadersAreAllowListed(t *testing.T) {
	for _, c := range []struct {
		name    string
		dialect transform.Dialect
		model   string
		cred    string // the header carrying the provider's own credential
	}{
		{"openai", transform.NewOpenAI(transform.OpenAIOptions{}), "gpt-4o-mini", "Authorization"},
		{"azure", transform.NewOpenAI(transform.OpenAIOptions{Azure: &transform.AzureOptions{APIVersion: "2024-10-21"}}), "gpt-4o", "Api-Key"},
		{"anthropic", transform.NewAnthropic(transform.AnthropicOptions{}), "claude-sonnet-4-5", "X-Api-Key"},
		{"gemini", transform.NewGemini(transform.GeminiOptions{}), "gemini-2.5-flash", "X-Goog-Api-Key"},
		{"ollama", transform.NewOllama(transform.OllamaOptions{}), "llama3", "Authorization"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"no","type":"invalid_request_error"}}`))
			})
			g := newGateway(t, base, func(cfg *Config) {
				cfg.Providers[0].Name = c.name
				cfg.Providers[0].Dialect = c.dialect
			})
			req := clientRequest(`{"model":"` + c.name + "/" + c.model + `","messages":[{"role":"user","content":"hi"}]}`)
			g.ServeHTTP(discard(), req)
			up := <-seen
			for _, h := range hostileHeaders {
				if v := up.header.Get(h); strings.HasPrefix(v, "client-") {
					t.Errorf("client header %s reached the upstream: %q", h, v)
				}
			}
			if v := up.header.Get("Content-Encoding"); v != "" {
				t.Errorf("Content-Encoding %q sent over a plain body", v)
			}
			if v := up.header.Get(c.cred); v == "" || strings.Contains(v, "client") {
				t.Errorf("provider credential %s = %q", c.cred, v)
			}
			for h, want := range allowedHeaders {
				if got := up.header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if c.name == "anthropic" && up.header.Get("Anthropic-Version") == "" {
				t.Errorf("the dialect's own headers must still be sent: %v", up.header)
			}
		})
	}
}

func TestForwardHeaders(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
	g := newGateway(t, base, func(cfg *Config) {
		cfg.Providers[0].ForwardHeaders = []string{"openai-beta", "X-CUSTOM"}
	})
	req := clientRequest(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	req.Header.Set("Connection", "X-Custom")
	g.ServeHTTP(discard(), req)
	up := <-seen
	if got := up.header.Get("OpenAI-Beta"); got != "client-openai-beta" {
		t.Errorf("forward_headers openai-beta: got %q", got)
	}
	if got := up.header.Get("X-Custom"); got != "" {
		t.Errorf("a header the client's Connection header names is hop-by-hop, never forwarded: %q", got)
	}
	if got := up.header.Get("Anthropic-Beta"); got != "" {
		t.Errorf("headers not named stay dropped: %q", got)
	}
	if got := up.header.Get("User-Agent"); got != "sdk/1.0" {
		t.Errorf("the default allow-list still applies: User-Agent %q", got)
	}
}

func TestForwardHeadersRefused(t *testing.T) {
	for _, name := range []string{"Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "Host", "Content-Length",
		"Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "", "bad name"} {
		_, err := New(Config{Providers: []Provider{{Name: "p", BaseURL: "http://127.0.0.1:1/v1",
			Dialect: transform.NewOpenAI(transform.OpenAIOptions{}), ForwardHeaders: []string{name}}}})
		if err == nil || !strings.Contains(err.Error(), "forward_headers") {
			t.Errorf("forward_headers %q: error %v, want a refusal naming forward_headers", name, err)
		}
	}
}

// discard is a ResponseWriter for tests that only look at what the upstream received.
func discard() http.ResponseWriter { return &discardWriter{h: http.Header{}} }

func TestProviderPolicyBalancesKeys(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
	g := newGateway(t, base, func(cfg *Config) {
		cfg.Providers[0].APIKeys = []string{"k1", "k2"}
		cfg.Providers[0].Policy = router.PolicyRoundRobin
	})
	var keys []string
	for range 10 {
		g.ServeHTTP(discard(), clientRequest(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		keys = append(keys, (<-seen).header.Get("Authorization"))
	}
	for i := 2; i < len(keys); i++ {
		if keys[i] != keys[i-2] || keys[i] == keys[i-1] {
			t.Fatalf("round_robin over two keys should alternate: %v", keys)
		}
	}
}

func TestGatewayHeaderNamesAreCanonical(t *testing.T) {
	for _, k := range []string{hdrProvider, hdrUpstreamModel, hdrAttempts, hdrUsage, hdrCost} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is set as is, but its canonical form is %q", k, c)
		}
	}
}

func TestAppendCostIsFormatCost(t *testing.T) {
	for _, usd := range []float64{-1, 0, 1e-9, 0.000123, 1.5, 12345.678} {
		if got, want := string(appendCost([]byte("x"), usd)), "x"+formatCost(usd); got != want {
			t.Errorf("appendCost(%v) = %q, want %q", usd, got, want)
		}
	}
}
