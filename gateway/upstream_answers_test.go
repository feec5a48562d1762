package gateway

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// hostileDialects are the dialects the tests of upstream answers run against.
var hostileDialects = []struct {
	name    string
	dialect func() transform.Dialect
}{
	{"openai", func() transform.Dialect { return transform.NewOpenAI(transform.OpenAIOptions{}) }},
	{"azure", func() transform.Dialect {
		return transform.NewOpenAI(transform.OpenAIOptions{Azure: &transform.AzureOptions{APIVersion: "2024-10-21"}})
	}},
	{"anthropic", func() transform.Dialect { return transform.NewAnthropic(transform.AnthropicOptions{}) }},
	{"gemini", func() transform.Dialect { return transform.NewGemini(transform.GeminiOptions{}) }},
	{"ollama", func() transform.Dialect { return transform.NewOllama(transform.OllamaOptions{}) }},
}

// A model name that would climb out of the deployment or model path is refused before any upstream is called.
func TestModelPathTraversalNeverReachesUpstream(t *testing.T) {
	for _, d := range hostileDialects {
		if d.name != "azure" && d.name != "gemini" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			var calls atomic.Int32
			base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
				calls.Add(1)
				w.WriteHeader(http.StatusNotFound)
			})
			g := newGateway(t, base, func(c *Config) {
				c.Providers[0].Name, c.Providers[0].Dialect = "up", d.dialect()
			})
			for _, model := range []string{"up/..", "up/.", "up/../../v1/files"} {
				rec := post(t, g, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
				if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.param").Str != "model" ||
					strings.Contains(rec.Body.String(), base) {
					t.Errorf("model %s: %d %s", model, rec.Code, rec.Body)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("the upstream was contacted %d times", n)
			}
		})
	}
}

// upstreamWantsStream reports whether the upstream request asks for a stream, in any dialect.
func upstreamWantsStream(r *http.Request, body []byte) bool {
	return gjson.GetBytes(body, "stream").Bool() || strings.Contains(r.URL.Path, "streamGenerateContent")
}

// hostileAnswer answers every request with status and payload: as the body, or for a stream request as the
// stream's first event in the dialect's framing (one NDJSON line for Ollama, SSE otherwise).
func hostileAnswer(dialect string, status int, payload []byte) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if status != http.StatusOK || !upstreamWantsStream(r, body) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(payload)
			return
		}
		if dialect == "ollama" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = w.Write(payload)
			_, _ = w.Write([]byte("\n"))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: "))
		_, _ = w.Write(payload)
		_, _ = w.Write([]byte("\n\n"))
	}
}

// hostileGateway is a gateway whose provider "up" speaks dialect d from upstream serve, and whose provider
// "good" (OpenAI) always answers well; requests name "up/m" with "good/m" as their fallback.
func hostileGateway(t *testing.T, d int, serve func(http.ResponseWriter, *http.Request, []byte), mutate ...func(*Config)) (*Gateway, *atomic.Int32) {
	t.Helper()
	base, _ := fakeUpstream(t, serve)
	var good atomic.Int32
	goodBase, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		good.Add(1)
		if upstreamWantsStream(r, b) {
			silentChunks("ok")(w, r, b)
			return
		}
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
	})
	g := newGateway(t, base, append([]func(*Config){func(c *Config) {
		c.Retry.BaseDelay = time.Millisecond
		c.Providers[0].Name, c.Providers[0].Dialect = "up", hostileDialects[d].dialect()
		c.Providers = append(c.Providers, Provider{Name: "good", BaseURL: goodBase, Dialect: transform.NewOpenAI(transform.OpenAIOptions{})})
	}}, mutate...)...)
	return g, &good
}

const (
	hostileBody           = `{"model":"up/m","messages":[{"role":"user","content":"hi"}]}`
	hostileStreamBody     = `{"model":"up/m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	hostileFallback       = `{"model":"up/m","models":["good/m"],"messages":[{"role":"user","content":"hi"}]}`
	hostileStreamFallback = `{"model":"up/m","models":["good/m"],"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// An upstream answering 200 with deeply nested JSON, whole or as its first stream event, is a retryable 502
// bad_upstream_response in every dialect: the next target answers, and alone it is the client's 502.
func TestDeepUpstreamAnswerIsRetried502(t *testing.T) {
	for i, d := range hostileDialects {
		t.Run(d.name, func(t *testing.T) {
			for _, size := range []int{8 << 20, 512 << 10} {
				for _, stream := range []bool{false, true} {
					if stream && size > 1<<20 {
						continue // a line over max_event_size is upstream_response_too_large
					}
					g, good := hostileGateway(t, i, hostileAnswer(d.name, http.StatusOK, []byte(strings.Repeat("[", size))),
						func(c *Config) { c.Breaker.Disabled = true })
					body, fallback := hostileBody, hostileFallback
					if stream {
						body, fallback = hostileStreamBody, hostileStreamFallback
					}
					res := &Result{}
					rec := serveRecorded(g, body, res)
					if rec.Code != http.StatusBadGateway || gjson.Get(rec.Body.String(), "error.code").Str != "bad_upstream_response" {
						t.Errorf("stream=%v size=%d: %d %.300s", stream, size, rec.Code, rec.Body)
					}
					before := good.Load()
					rec = serveRecorded(g, fallback, res)
					if rec.Code != http.StatusOK || good.Load() != before+1 || len(res.Attempts) != 2 || res.Attempts[0].Status != http.StatusBadGateway {
						t.Errorf("stream=%v size=%d: no fallback: %d %+v %.300s", stream, size, rec.Code, res.Attempts, rec.Body)
					}
				}
			}
		})
	}
}

// An answer over max_response_body, or a stream line over max_event_size, is a retryable 502
// upstream_response_too_large that says which limit to raise; it is never read past the limit.
func TestUpstreamResponseTooLarge(t *testing.T) {
	big := []byte(`{"choices":[{"message":{"content":"` + strings.Repeat("x", 3<<20) + `"}}]}`)
	limits := func(c *Config) {
		c.MaxResponseBody, c.MaxEventSize, c.Breaker.Disabled = 1<<20, 256<<10, true
	}
	for i, d := range hostileDialects {
		t.Run(d.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				g, good := hostileGateway(t, i, hostileAnswer(d.name, http.StatusOK, big), limits)
				body, fallback, limit := hostileBody, hostileFallback, "max_response_body"
				if stream {
					body, fallback, limit = hostileStreamBody, hostileStreamFallback, "max_event_size"
				}
				rec := post(t, g, body)
				msg := gjson.Get(rec.Body.String(), "error.message").Str
				if rec.Code != http.StatusBadGateway || gjson.Get(rec.Body.String(), "error.code").Str != "upstream_response_too_large" ||
					!strings.Contains(msg, limit) || strings.Contains(msg, "reach") {
					t.Errorf("stream=%v: %d %.300s", stream, rec.Code, rec.Body)
				}
				res := &Result{}
				if rec := serveRecorded(g, fallback, res); rec.Code != http.StatusOK || good.Load() != 1 || len(res.Attempts) != 2 {
					t.Errorf("stream=%v: no fallback: %d %+v", stream, rec.Code, res.Attempts)
				}
			}
		})
	}
}

// A stream line over max_event_size after the answer began ends the stream with an error event naming it.
func TestStreamEventTooLargeMidStream(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(`data: {"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}` + "\n\n"))
		_, _ = w.Write([]byte(`data: {"id":"s1","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 2<<20) + "\"}}]}\n\n"))
	})
	g := newGateway(t, base)
	rec := post(t, g, `{"model":"openai/m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	evs := sseEvents(rec.Body.String())
	if rec.Code != http.StatusOK || len(evs) != 2 || gjson.Get(evs[1], "error.code").Str != "upstream_response_too_large" {
		t.Fatalf("%d %.500q", rec.Code, evs)
	}
}

// The limits default to 16 MiB per answer and 1 MiB per stream line.
func TestResponseLimitsDefaults(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	if g.cfg.MaxResponseBody != 16<<20 || g.cfg.MaxEventSize != 1<<20 {
		t.Fatalf("max_response_body %d, max_event_size %d", g.cfg.MaxResponseBody, g.cfg.MaxEventSize)
	}
}

// However large an upstream's answer, an attempt allocates about max_response_body, not the answer's size:
// memory under concurrency is bounded by the limit times the requests in flight.
func TestTooLargeAnswerIsNotRead(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for _, declared := range []bool{false, true} {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
			if declared {
				w.Header().Set("Content-Length", strconv.Itoa(64<<20))
			}
			for i := 0; i < (64<<20)/len(chunk); i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		g := newGateway(t, base, func(c *Config) { c.MaxResponseBody, c.Retry.MaxAttempts = 1<<20, 1 })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rec := post(t, g, `{"model":"openai/m","messages":[{"role":"user","content":"hi"}]}`)
		runtime.ReadMemStats(&after)
		if rec.Code != http.StatusBadGateway {
			t.Fatalf("declared=%v: %d %s", declared, rec.Code, rec.Body)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("declared=%v: a 64 MiB answer over a 1 MiB limit allocated %d MiB", declared, n>>20)
		}
	}
}

// A 200 whose body is an error, whole or as the stream's first event, is that error in every dialect: the
// client gets its status, nothing is billed, the next target is tried and the breaker counts a failure.
func TestErrorBodyWith200IsAFailedAttempt(t *testing.T) {
	bodies := map[string]string{
		"openai":    `{"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`,
		"azure":     `{"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"429"}}`,
		"anthropic": `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`,
		"gemini":    `{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`,
		"ollama":    `{"error":"server busy"}`,
	}
	for i, d := range hostileDialects {
		want := http.StatusTooManyRequests
		if d.name == "ollama" {
			want = http.StatusBadGateway // Ollama's errors have no type
		}
		for _, stream := range []bool{false, true} {
			g, good := hostileGateway(t, i, hostileAnswer(d.name, http.StatusOK, []byte(bodies[d.name])),
				func(c *Config) { c.Retry.MaxAttempts = 1 })
			body, fallback := hostileBody, hostileFallback
			if stream {
				body, fallback = hostileStreamBody, hostileStreamFallback
			}
			for range router.DefaultConsecutiveFailures {
				res := &Result{}
				rec := serveRecorded(g, body, res)
				if rec.Code != want || res.Usage.Known() || !gjson.Valid(rec.Body.String()) {
					t.Errorf("%s stream=%v: %d %+v %s", d.name, stream, rec.Code, res.Usage, rec.Body)
				}
			}
			res := &Result{}
			rec := serveRecorded(g, fallback, res)
			if rec.Code != http.StatusOK || good.Load() != 1 || len(res.Attempts) != 1 || res.Attempts[0].Target != "good/m" {
				t.Errorf("%s stream=%v: the breaker did not rest the failing target: %d %+v", d.name, stream, rec.Code, res.Attempts)
			}
		}
	}
}

// hostileEvents answers 200 with a stream of the given event payloads in the dialect's framing.
func hostileEvents(dialect string, events ...string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if dialect == "ollama" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = w.Write([]byte(strings.Join(events, "\n") + "\n"))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			_, _ = w.Write([]byte("data: " + ev + "\n\n"))
		}
	}
}

// A provider credential echoed by an upstream never reaches the client nor the Result (and so the log), in
// any dialect, in error bodies, relayed OpenAI error bodies, error answers with a 200 and in-stream errors.
func TestUpstreamEchoedKeyIsRedacted(t *testing.T) {
	const key = "gw-Secret/Key+0123456789"
	escaped := strings.ReplaceAll(key, "/", `\/`) // as PHP and some Java encoders write it
	errJSON := map[string]string{
		"openai":    `{"error":{"message":"Invalid API key provided: Bearer KEY","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		"anthropic": `{"type":"error","error":{"type":"authentication_error","message":"Invalid API key provided: Bearer KEY"}}`,
		"gemini":    `{"error":{"code":401,"message":"Invalid API key provided: Bearer KEY","status":"UNAUTHENTICATED"}}`,
		"ollama":    `{"error":"Invalid API key provided: Bearer KEY"}`,
	}
	errJSON["azure"] = errJSON["openai"]
	first := map[string]string{
		"openai":    `{"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
		"anthropic": `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}`,
		"gemini":    `{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"}}]}`,
		"ollama":    `{"model":"m","message":{"role":"assistant","content":"a"},"done":false}`,
	}
	first["azure"] = first["openai"]
	for i, d := range hostileDialects {
		for _, form := range []string{key, escaped} {
			bad := strings.ReplaceAll(errJSON[d.name], "KEY", form)
			cases := map[string]struct {
				serve  func(http.ResponseWriter, *http.Request, []byte)
				stream bool
			}{
				"401 json":                {hostileAnswer(d.name, http.StatusUnauthorized, []byte(bad)), false},
				"401 json, stream":        {hostileAnswer(d.name, http.StatusUnauthorized, []byte(bad)), true},
				"401 text":                {hostileAnswer(d.name, http.StatusUnauthorized, []byte("Invalid API key provided: Bearer "+key)), false},
				"401 text, stream":        {hostileAnswer(d.name, http.StatusUnauthorized, []byte("Invalid API key provided: Bearer "+key)), true},
				"200 error body":          {hostileAnswer(d.name, http.StatusOK, []byte(bad)), false},
				"first event is an error": {hostileEvents(d.name, bad), true},
				"error mid-stream":        {hostileEvents(d.name, first[d.name], bad), true},
			}
			for name, c := range cases {
				g, _ := hostileGateway(t, i, c.serve, func(cfg *Config) {
					cfg.Providers[0].APIKeys = []string{key}
					cfg.Retry.MaxAttempts = 1
				})
				body := hostileBody
				if c.stream {
					body = hostileStreamBody
				}
				res := &Result{}
				rec := serveRecorded(g, body, res)
				seen := rec.Body.String()
				if res.Err != nil {
					seen += res.Err.Error() + res.Err.Message + string(res.Err.Raw)
				}
				for _, a := range res.Attempts {
					seen += a.Err
				}
				if strings.Contains(seen, key) || strings.Contains(seen, escaped) || res.Err == nil {
					t.Errorf("%s, %s, key as %s: %d %s", d.name, name, form, rec.Code, seen)
				}
				if c.stream && name != "error mid-stream" && rec.Code == http.StatusOK {
					t.Errorf("%s, %s: committed a stream for an error: %s", d.name, name, seen)
				}
			}
		}
	}
}

// The redactor knows every provider's keys and the credentials in its extra headers, and leaves alone keys
// too short to tell from ordinary words.
func TestRedactorSecrets(t *testing.T) {
	r := newRedactor([]Provider{
		{APIKeys: []string{"first-key-123456", "abc"}},
		{APIKeys: []string{"first-key-123456-longer"}, Header: http.Header{
			"Authorization": {"Bearer header-token-9876"}, "X-Portkey-Api-Key": {"pk-live-abcdefgh"}, "Openai-Beta": {"assistants=v2"},
		}},
	})
	in := "k1 first-key-123456-longer k2 first-key-123456 h header-token-9876 p pk-live-abcdefgh abc assistants=v2"
	want := "k1 [redacted] k2 [redacted] h [redacted] p [redacted] abc assistants=v2"
	if got := r.text(in); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e := r.error(&transform.Error{Status: 401, Raw: []byte(`{"error":{"message":"bad key first-key-123456","type":"x"}}`)})
	if string(e.Raw) != `{"error":{"message":"bad key [redacted]","type":"x"}}` {
		t.Fatalf("raw %s", e.Raw)
	}
}

// A stream event that is not JSON ends the relayed stream with bad_upstream_response; its bytes never reach
// the client.
func TestInvalidStreamEventIsNotRelayed(t *testing.T) {
	for i, d := range hostileDialects {
		if d.name != "openai" && d.name != "azure" {
			continue
		}
		g, _ := hostileGateway(t, i, hostileEvents(d.name,
			`{"id":"s1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
			`{not json at all}`))
		rec := post(t, g, hostileStreamBody)
		evs := sseEvents(rec.Body.String())
		if rec.Code != http.StatusOK || len(evs) != 2 || gjson.Get(evs[1], "error.code").Str != "bad_upstream_response" ||
			strings.Contains(rec.Body.String(), "not json at all") {
			t.Errorf("%s: %d %q", d.name, rec.Code, evs)
		}
	}
}
