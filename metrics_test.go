package aigateway

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// metricsHandler provisions a handler from a Caddyfile body (inside ai_gateway { ... }) and returns it with
// a function that serves one chat completion body through ServeHTTP.
func metricsHandler(t *testing.T, config string) (*Handler, func(body string) *httptest.ResponseRecorder) {
	t.Helper()
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ai_gateway {\n" + config + "\n}")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	h.logger = zap.NewNop() // thousands of request lines would bury the test's own output
	return h, func(body string) *httptest.ResponseRecorder {
		req := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)),
			caddy.NewReplacer(), nil, &caddyhttp.Server{})
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, req, nil); err != nil {
			t.Fatal(err)
		}
		return rec
	}
}

// series returns every label set the handler's collectors hold, and fails on a label value that is not
// configured text.
func series(t *testing.T, m *metrics) []map[string]string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range []prometheus.Collector{m.requests, m.tokens, m.cost, m.duration, m.ttfb, m.attempts, m.storeErrors} {
		reg.MustRegister(c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{"__name__": f.GetName()}
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			out = append(out, labels)
			checkValue(t, f, mt)
		}
	}
	return out
}

func checkValue(t *testing.T, f *dto.MetricFamily, mt *dto.Metric) {
	t.Helper()
	if c := mt.GetCounter(); c != nil && (c.GetValue() < 0 || math.IsNaN(c.GetValue()) || math.IsInf(c.GetValue(), 0)) {
		t.Errorf("%s %v = %v", f.GetName(), mt.GetLabel(), c.GetValue())
	}
}

// Clients cannot grow the metrics: 1,000 random model names against an upstream that 404s them, and as
// many it answers, leave the same handful of series, whose labels carry only configured names or "other"
// (issue #10, item 6).
func TestRandomModelNamesDoNotGrowMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "missing-") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"message":"no such model","type":"invalid_request_error","code":"model_not_found"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	}))
	defer up.Close()
	h, serve := metricsHandler(t, "provider openai {\nbase_url "+up.URL+"\n}\nprovider listed {\nbase_url "+up.URL+
		"\nmodels gpt-4o-mini\n}\nalias fast openai/gpt-4o")
	for i := range 1000 {
		for _, model := range []string{"openai/missing-" + strconv.Itoa(i), "openai/ok-" + strconv.Itoa(i)} {
			if rec := serve(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 404 && rec.Code != 200 {
				t.Fatalf("%s: %d %s", model, rec.Code, rec.Body)
			}
		}
	}
	for _, model := range []string{"fast", "openai/gpt-4o", "listed/gpt-4o-mini", "nope/x"} {
		serve(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)
	}
	got := series(t, h.metrics)
	allowed := map[string]bool{"": true, "openai": true, "listed": true, "openai/other": true, "openai/gpt-4o": true,
		"listed/gpt-4o-mini": true}
	for _, s := range got {
		for _, name := range []string{"provider", "model", "target"} {
			if v, ok := s[name]; ok && !allowed[v] {
				t.Errorf("series %v: label %s=%q is not a configured name", s, name, v)
			}
		}
	}
	// requests (3 models × 200, 404 ×1 model "", 404 of nope), tokens (3 models × 2 types), cost, duration,
	// ttfb, attempts (3 targets × 200, openai/other 404): a few dozen at most, never one per name.
	if len(got) > 40 {
		t.Errorf("%d series after 2,000 distinct model names, want a bounded handful", len(got))
	}
	if n := testutil.ToFloat64(h.metrics.attempts.WithLabelValues("openai/other", "404")); n != 1000 {
		t.Errorf("attempts_total{target=openai/other,status=404} = %v, want 1000", n)
	}
	if n := testutil.ToFloat64(h.metrics.requests.WithLabelValues("chat_completions", "openai", "openai/gpt-4o", "200")); n != 2 {
		t.Errorf("requests_total{model=openai/gpt-4o} = %v, want 2 (by alias and by name)", n)
	}
}

// An upstream that reports negative or absurd usage gets its answer relayed with the gateway's own count;
// metrics stay whole and nothing panics. A model name that is not valid UTF-8 is refused before any upstream
// (issue #10, items 4 and 5).
func TestImplausibleUsageAndBadModelNamesDoNotPanic(t *testing.T) {
	var calls int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if body, _ := io.ReadAll(r.Body); strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi there"},"finish_reason":"stop"}]}`+"\n\n"+
				`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":-1000000,"completion_tokens":2,"total_tokens":-999998}}`+"\n\n"+
				"data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":-1000000,"completion_tokens":1e300,"total_tokens":-5}}`)
	}))
	defer up.Close()
	h, serve := metricsHandler(t, "provider openai {\nbase_url "+up.URL+"\nmodels gpt-4o-mini\n}")
	rec := serve(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || rec.Header().Get("X-AI-Gateway-Usage") == "reported" || strings.Contains(rec.Body.String(), "-1000000") {
		t.Fatalf("%d usage=%s %s, want 200 with the gateway's own count", rec.Code, rec.Header().Get("X-AI-Gateway-Usage"), rec.Body)
	}
	rec = serve(`{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || rec.Result().Trailer.Get("X-AI-Gateway-Usage") == "reported" || strings.Contains(rec.Body.String(), "-1000000") ||
		!strings.Contains(rec.Body.String(), `"usage":{"prompt_tokens":`) {
		t.Fatalf("stream: %d usage=%s %s, want 200 with the gateway's own count", rec.Code, rec.Result().Trailer.Get("X-AI-Gateway-Usage"), rec.Body)
	}
	if rec := serve(`{"model":"openai/gpt-4o-mini` + "\xff" + `","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 400 {
		t.Fatalf("invalid UTF-8 model: %d %s", rec.Code, rec.Body)
	}
	if calls != 2 {
		t.Errorf("the upstream was called %d times, want twice", calls)
	}
	if n := testutil.ToFloat64(h.metrics.tokens.WithLabelValues("chat_completions", "openai", "openai/gpt-4o-mini", "prompt", "counted")); n <= 0 {
		t.Errorf("prompt tokens_total{origin=counted} = %v, want the gateway's own positive count", n)
	}
	// Whatever a Result holds, observe neither panics nor lets a counter go down or become NaN.
	for _, res := range []*gateway.Result{
		{Status: 200, Provider: "openai\xff", Attempts: []gateway.Attempt{{Target: "openai/\xff", Label: "openai/\xfe", Status: 200}},
			Usage: usage.Usage{PromptTokens: -1_000_000, CompletionTokens: -1, Origin: usage.Reported}, CostUSD: math.Inf(1)},
		{Status: 200, Provider: "openai", Attempts: []gateway.Attempt{{Label: "openai/gpt-4o-mini", Status: 200}},
			Usage: usage.Usage{PromptTokens: math.MaxInt, Origin: usage.Reported}, CostUSD: math.NaN()},
		{Status: 200, Provider: "openai", Attempts: []gateway.Attempt{{Label: "openai/gpt-4o-mini", Status: 200}}, CostUSD: -3},
		{Status: 502},
	} {
		h.metrics.observe(res, -time.Second)
	}
	for _, s := range series(t, h.metrics) {
		for name, v := range s {
			if !utf8.ValidString(v) {
				t.Errorf("series %v: label %s is not valid UTF-8", s, name)
			}
		}
	}
}
