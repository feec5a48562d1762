package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/simulator"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// Hot-path micro-benchmarks. CI runs them once with -benchtime 1x so they cannot rot; run them for numbers with
//
//	go test -run '^$' -bench . -benchmem ./gateway/
const (
	benchBody = `{"model":"sim/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello in a few words."}],"max_tokens":256,"temperature":0.7}`
	benchStreamBody = `{"model":"sim/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello in a few words."}],"stream":true,"stream_options":{"include_usage":true}}`
	benchChunks = 200
)

func benchGateway(b *testing.B, baseURL string) *Gateway {
	b.Helper()
	g, err := New(Config{
		Providers: []Provider{{Name: "sim", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}), BaseURL: baseURL,
			APIKeys: []string{"sk-upstream"}}},
		Aliases: map[string]string{"fast": "sim/gpt-4o-mini"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	return g
}

// BenchmarkValidate measures body validation of a typical chat request.
func BenchmarkValidate(b *testing.B) {
	g := benchGateway(b, "http://127.0.0.1:1/v1")
	body := []byte(benchBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, e := g.validate(endpointByID[ChatCompletions], body); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkResolve measures planning a client model name (and an alias) into upstream targets, as the
// engine does per request (router.PlanInto into the exchange's embedded Plan, then Next).
func BenchmarkResolve(b *testing.B) {
	g := benchGateway(b, "http://127.0.0.1:1/v1")
	for _, model := range []string{"sim/gpt-4o-mini", "fast"} {
		b.Run(model, func(b *testing.B) {
			var x exchange
			b.ReportAllocs()
			for b.Loop() {
				if err := g.router.PlanInto(&x.plan, model, nil); err != nil {
					b.Fatal(err)
				}
				if _, ok := x.plan.Next(); !ok {
					b.Fatal("no target")
				}
			}
		})
	}
}

// BenchmarkUpstreamHeader measures filtering a typical SDK client's headers into the upstream request's.
func BenchmarkUpstreamHeader(b *testing.B) {
	client := http.Header{
		"Authorization":               {"Bearer sk-client"},
		"Content-Type":                {"application/json"},
		"Accept":                      {"application/json"},
		"User-Agent":                  {"OpenAI/Python 1.54.0"},
		"X-Stainless-Lang":            {"python"},
		"X-Stainless-Package-Version": {"1.54.0"},
		"X-Stainless-Os":              {"Linux"},
		"X-Stainless-Retry-Count":     {"0"},
		"Accept-Encoding":             {"gzip, deflate"},
		"Connection":                  {"keep-alive"},
		"X-Forwarded-For":             {"10.0.0.1"},
	}
	extra := http.Header{"X-Team": {"bench"}}
	b.ReportAllocs()
	for b.Loop() {
		if h := upstreamHeader(client, defaultForwardHeaders, extra, false); h.Get("Authorization") != "" {
			b.Fatal("client credential forwarded")
		}
	}
}

// discardWriter is a ResponseWriter that keeps only what the benchmark checks, so the measured allocations
// are the handler's.
type discardWriter struct {
	h      http.Header
	status int
	n      int
	tail   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	if len(p) >= 16 {
		w.tail = append(w.tail[:0], p[len(p)-16:]...)
	} else {
		w.tail = append(w.tail, p...)
	}
	return len(p), nil
}
func (w *discardWriter) Flush() {}

func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n, w.tail = 0, 0, w.tail[:0]
}

// proxies returns the handlers compared: the gateway, net/http/httputil's ReverseProxy and Caddy's
// reverse_proxy handler, each in front of upstream.
func proxies(b *testing.B, upstream string) map[string]http.Handler {
	b.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }, FlushInterval: -1}
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024}

	// Caddy modules provision inside a loaded config: load an empty one (no admin, no apps) for its context.
	if err := caddy.Load([]byte(`{"admin":{"disabled":true},"logging":{"logs":{"default":{"level":"ERROR"}}}}`), true); err != nil {
		b.Fatalf("loading an empty Caddy config: %v", err)
	}
	b.Cleanup(func() { _ = caddy.Stop() })
	ctx, cancel := caddy.NewContext(caddy.ActiveContext())
	b.Cleanup(cancel)
	crp := &reverseproxy.Handler{Upstreams: reverseproxy.UpstreamPool{{Dial: u.Host}}, FlushInterval: -1}
	if err := crp.Provision(ctx); err != nil {
		b.Fatalf("provisioning Caddy's reverse_proxy: %v", err)
	}
	b.Cleanup(func() { _ = crp.Cleanup() })
	srv := &caddyhttp.Server{}
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	caddyRP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, srv)
		if err := crp.ServeHTTP(w, r, next); err != nil {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	limited := benchGateway(b, upstream+"/v1")
	// A request limit: a token limit adds counting the prompt locally (the reservation's estimate).
	lim, err := ratelimit.New(ratelimit.NewMemoryStore(), []ratelimit.Rule{{Name: "per_key",
		Requests: ratelimit.Rate{Limit: 1 << 40, Window: time.Minute}}}, ratelimit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	limited.cfg.Limiter = lim
	limited.cfg.Claims = func(r *http.Request, _ LimitScope) []ratelimit.Claim {
		return []ratelimit.Claim{{Rule: "per_key", Key: r.Header.Get("Authorization")}}
	}
	// A route balancing three targets (three providers on the same upstream) instead of one.
	three, err := New(Config{
		Providers: []Provider{
			{Name: "a", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}), BaseURL: upstream + "/v1"},
			{Name: "b", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}), BaseURL: upstream + "/v1"},
			{Name: "c", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}), BaseURL: upstream + "/v1"},
		},
		Routes: []router.RouteConfig{{Name: "sim/gpt-4o-mini", Tiers: [][]router.WeightedTarget{
			{{Model: "a/gpt-4o-mini"}, {Model: "b/gpt-4o-mini"}, {Model: "c/gpt-4o-mini"}}}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(three.Close)
	// The gateway with net/http's Transport instead of its own HTTP/1.1 client, for comparison.
	nethttp, err := New(Config{
		Providers: []Provider{{Name: "sim", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}),
			BaseURL: upstream + "/v1", APIKeys: []string{"sk-upstream"},
			Transport: &http.Transport{MaxIdleConnsPerHost: 1024, ForceAttemptHTTP2: true}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nethttp.Close)
	return map[string]http.Handler{
		"gateway_nethttp":     nethttp,
		"gateway":             benchGateway(b, upstream+"/v1"),
		"gateway_rate_limit":  limited,
		"gateway_3_targets":   three,
		"httputil":            rp,
		"caddy_reverse_proxy": caddyRP,
	}
}

// BenchmarkRequestPath measures whole requests through each handler to a loopback simulator answering as
// fast as it can: non-streamed (20 tokens) and streamed (200 one-token chunks). The client side is in-process,
// so the figure is the handler's cost plus the upstream's and loopback's, the same for every handler.
func BenchmarkRequestPath(b *testing.B) {
	for _, mode := range []struct {
		name   string
		body   string
		tokens int
		end    string
	}{
		{"plain", benchBody, 20, "}"},
		{"stream", benchStreamBody, benchChunks, "data: [DONE]\n\n"},
	} {
		up := httptest.NewServer(simulator.New(simulator.Config{CompletionTokens: mode.tokens}))
		handlers := proxies(b, up.URL)
		for _, name := range []string{"gateway", "gateway_nethttp", "gateway_rate_limit", "gateway_3_targets", "httputil", "caddy_reverse_proxy"} {
			h := handlers[name]
			b.Run(mode.name+"/"+name, func(b *testing.B) {
				w := &discardWriter{h: make(http.Header)}
				body := []byte(mode.body)
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					w.reset()
					r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Authorization", "Bearer sk-client")
					h.ServeHTTP(w, r)
					if w.status != http.StatusOK || !strings.HasSuffix(string(w.tail), mode.end) {
						b.Fatalf("status %d, answer ends with %q", w.status, w.tail)
					}
				}
				b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
		up.Close()
	}
}

// cannedUpstream is a RoundTripper answering every request with one recorded answer, without any connection:
// it allocates only the Response, its header map and body reader.
type cannedUpstream struct {
	status int
	header http.Header
	body   []byte
}

func (c *cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: c.header.Clone(), ContentLength: int64(len(c.body)),
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

// BenchmarkHandlerOwn measures what the gateway's handler itself allocates and costs for one plain request,
// without any HTTP client or upstream server: its provider's transport answers from memory with the
// simulator's recorded answer. The "harness" row is the test's own request and recorder, to subtract.
func BenchmarkHandlerOwn(b *testing.B) {
	rec := httptest.NewRecorder()
	simulator.New(simulator.Config{CompletionTokens: 20}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost,
		"/v1/chat/completions", strings.NewReader(benchBody)))
	canned := &cannedUpstream{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
	g, err := New(Config{
		Providers: []Provider{{Name: "sim", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}),
			BaseURL: "http://upstream.invalid/v1", APIKeys: []string{"sk-upstream"}, Transport: canned}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	harness := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"harness", harness}, {"gateway", g}} {
		b.Run(h.name, func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			body := []byte(benchBody)
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				w.reset()
				r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer sk-client")
				h.h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
