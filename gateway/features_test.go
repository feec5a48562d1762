package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// silentChunks streams words without any usage, like an older self-hosted server.
func silentChunks(words ...string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n")
		for _, word := range words {
			io.WriteString(w, `data: {"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"`+word+`"},"finish_reason":null}]}`+"\n\n")
		}
		io.WriteString(w, `data: {"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}
}

func TestSilentUpstreamGetsCountedUsage(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		base, _ := fakeUpstream(t, silentChunks("Hello", " there", ",", " friend", "."))
		g := newGateway(t, base, func(c *Config) { c.ReportCost = true })
		res := &Result{}
		rec := serveRecorded(g, `{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`, res)
		evs := sseEvents(rec.Body.String())
		u := gjson.Get(evs[len(evs)-2], "usage")
		// "Hello there, friend." is 5 o200k tokens plus 1 that ends the message; the prompt is
		// 3 (message) + 1 ("user") + 2 ("Say hello") + 3 (reply primer).
		if u.Get("completion_tokens").Int() != 6 || u.Get("prompt_tokens").Int() != 9 || u.Get("total_tokens").Int() != 15 {
			t.Fatalf("usage %s", u.Raw)
		}
		// the usage origin is only known at the end of a stream: it comes as a trailer
		if tr := rec.Result().Trailer; !u.Get("cost").Exists() || tr.Get("X-AI-Gateway-Usage") != "counted" || tr.Get("X-AI-Gateway-Cost") == "" {
			t.Errorf("cost missing or no usage trailer: %s %v", u.Raw, tr)
		}
		if res.Usage.Origin.String() != "counted" || res.Usage.CompletionTokens != 6 {
			t.Errorf("result usage %+v", res.Usage)
		}
	})
	t.Run("non-stream", func(t *testing.T) {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
			io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"llama","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, friend."},"finish_reason":"stop"}]}`)
		})
		g := newGateway(t, base, func(c *Config) { c.ReportCost = true })
		rec := post(t, g, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`)
		if got := gjson.Get(rec.Body.String(), "usage.completion_tokens").Int(); got != 6 {
			t.Errorf("completion tokens %d: %s", got, rec.Body)
		}
		if rec.Header().Get("X-AI-Gateway-Usage") != "counted" || rec.Header().Get("X-AI-Gateway-Cost") == "" {
			t.Errorf("headers %v", rec.Header())
		}
	})
	t.Run("reported usage wins", func(t *testing.T) {
		base, _ := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
		rec := post(t, newGateway(t, base), `{"model":"openai/gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}`)
		if gjson.Get(rec.Body.String(), "usage.total_tokens").Int() != 95 || rec.Header().Get("X-AI-Gateway-Usage") != "reported" {
			t.Errorf("%v %s", rec.Header(), gjson.Get(rec.Body.String(), "usage"))
		}
	})
}

func serveRecorded(g *Gateway, body string, res *Result) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(body))
	*res = *g.Serve(rec, req)
	return rec
}

func TestRateLimitRefusesBeforeUpstream(t *testing.T) {
	var calls atomic.Int32
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		calls.Add(1)
		replay(t, "openai/chat_tool_call.json", "application/json")(w, r, b)
	})
	lim, err := ratelimit.New(ratelimit.NewMemoryStore(), []ratelimit.Rule{{Name: "two", Requests: ratelimit.Rate{Limit: 2, Window: time.Minute}}}, ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = lim
		c.Claims = func(r *http.Request, _ LimitScope) []ratelimit.Claim {
			return []ratelimit.Claim{{Rule: "two", Key: r.Header.Get("Authorization")}}
		}
	})
	body := `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 2; i++ {
		if rec := post(t, g, body, "Authorization", "Bearer a"); rec.Code != 200 || rec.Header().Get("X-Ratelimit-Remaining-Requests") == "" {
			t.Fatalf("request %d: %d %v", i, rec.Code, rec.Header())
		}
	}
	rec := post(t, g, body, "Authorization", "Bearer a")
	if rec.Code != 429 || gjson.Get(rec.Body.String(), "error.code").Str != "rate_limit_exceeded" || rec.Header().Get("Retry-After") == "" ||
		rec.Header().Get("X-Ratelimit-Limit-Requests") != "2" {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if calls.Load() != 2 {
		t.Fatalf("the refused request reached the upstream: %d calls", calls.Load())
	}
	if rec := post(t, g, body, "Authorization", "Bearer b"); rec.Code != 200 {
		t.Fatalf("another key must have its own counter: %d", rec.Code)
	}
}

func TestStreamFallsBackBeforeFirstEventOnly(t *testing.T) {
	bad, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200) // then closes without an event
	})
	good, _ := fakeUpstream(t, silentChunks("ok"))
	g := newGateway(t, bad, func(c *Config) {
		c.Providers = append(c.Providers, Provider{Name: "backup", BaseURL: good, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
		c.Routes = []router.RouteConfig{{Name: "smart", Tiers: [][]router.WeightedTarget{{{Model: "openai/a"}}, {{Model: "backup/b"}}}}}
	})
	rec := post(t, g, `{"model":"smart","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	evs := sseEvents(rec.Body.String())
	if rec.Code != 200 || evs[len(evs)-1] != "[DONE]" || rec.Header().Get("X-AI-Gateway-Provider") != "backup" ||
		rec.Header().Get("X-AI-Gateway-Attempts") != "2" || gjson.Get(evs[0], "model").Str != "smart" {
		t.Fatalf("%d %v %q", rec.Code, rec.Header(), evs)
	}
}

func TestFirstTokenTimeoutMovesOn(t *testing.T) {
	slow, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	good, _ := fakeUpstream(t, silentChunks("ok"))
	g := newGateway(t, slow, func(c *Config) {
		c.Providers[0].FirstTokenTimeout = 100 * time.Millisecond
		c.Providers = append(c.Providers, Provider{Name: "backup", BaseURL: good, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
	})
	start := time.Now()
	rec := post(t, g, `{"model":"openai/a","models":["backup/b"],"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || rec.Header().Get("X-AI-Gateway-Provider") != "backup" || time.Since(start) > 3*time.Second {
		t.Fatalf("%d %v after %v", rec.Code, rec.Header(), time.Since(start))
	}
}

func TestNonRetryableErrorIsReturnedAtOnce(t *testing.T) {
	var calls atomic.Int32
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		calls.Add(1)
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`)
	})
	g := newGateway(t, base, func(c *Config) { c.Providers[0].APIKeys = []string{"a", "b", "c"} })
	if rec := post(t, g, `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 400 || calls.Load() != 1 {
		t.Fatalf("%d after %d calls", rec.Code, calls.Load())
	}
}

func TestRetryHonoursRetryAfterOnTheOnlyTarget(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	var gap atomic.Int64
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		if calls.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After-Ms", "300")
			w.WriteHeader(503)
			return
		}
		gap.Store(int64(time.Since(first)))
		replay(t, "openai/chat_tool_call.json", "application/json")(w, r, b)
	})
	g := newGateway(t, base)
	rec := post(t, g, `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || calls.Load() != 2 || time.Duration(gap.Load()) < 300*time.Millisecond {
		t.Fatalf("%d after %d calls, gap %v", rec.Code, calls.Load(), time.Duration(gap.Load()))
	}
}

// Ollama's native API streams NDJSON, not server-sent events: the engine reads it with the dialect's own
// framing and the client still gets OpenAI chunks, usage and [DONE].
func TestOllamaNativeNDJSONStream(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "ollama/api_chat_stream.ndjson", "application/x-ndjson"))
	g := newGateway(t, base, func(c *Config) {
		c.Providers[0] = Provider{Name: "ollama", BaseURL: strings.TrimSuffix(base, "/v1"), Dialect: transform.NewOllama(transform.OllamaOptions{})}
	})
	rec := post(t, g, `{"model":"ollama/gemma3:1b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	up := <-seen
	if up.path != "/api/chat" || gjson.GetBytes(up.body, "model").Str != "gemma3:1b" || !gjson.GetBytes(up.body, "stream").Bool() {
		t.Fatalf("upstream request %s %s", up.path, up.body)
	}
	evs := sseEvents(rec.Body.String())
	if rec.Code != 200 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("%d %q", rec.Code, evs)
	}
	text := ""
	for _, e := range evs[:len(evs)-1] {
		text += gjson.Get(e, "choices.0.delta.content").Str
	}
	u := gjson.Get(evs[len(evs)-2], "usage")
	if !strings.HasPrefix(text, "Okay,") || u.Get("prompt_tokens").Int() != 16 || u.Get("completion_tokens").Int() != 22 {
		t.Fatalf("text %q usage %s", text, u.Raw)
	}
}
