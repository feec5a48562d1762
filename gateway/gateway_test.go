package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// captured is what a fake upstream saw.
type captured struct {
	path   string
	header http.Header
	body   []byte
}

// fakeUpstream starts an upstream whose answers come from serve and records every request it receives.
func fakeUpstream(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, body []byte)) (string, chan captured) {
	t.Helper()
	seen := make(chan captured, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case seen <- captured{path: r.URL.RequestURI(), header: r.Header.Clone(), body: body}:
		default:
		}
		serve(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", seen
}

// replay answers with a recorded fixture body, flushing each SSE event on its own.
func replay(t *testing.T, name, contentType string) func(http.ResponseWriter, *http.Request, []byte) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", contentType)
		if !strings.Contains(contentType, "event-stream") {
			_, _ = w.Write(data)
			return
		}
		for _, ev := range strings.SplitAfter(string(data), "\n\n") {
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	}
}

func newGateway(t *testing.T, baseURL string, mutate ...func(*Config)) *Gateway {
	t.Helper()
	cfg := Config{Providers: []Provider{{
		Name: "openai", BaseURL: baseURL, APIKeys: []string{"sk-upstream-secret"},
		Dialect: transform.NewOpenAI(transform.OpenAIOptions{}),
	}}}
	for _, m := range mutate {
		m(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func post(t *testing.T, h http.Handler, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestNonStreamingRewritesModelAndCredentials(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
	g := newGateway(t, base)
	rec := post(t, g, `{"model":"openai/gpt-3.5-turbo","metadata":{"a":"b"},"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],"x_custom":  [1, 2]}`,
		"Authorization", "Bearer client-key", "Cookie", "session=1", "X-Api-Key", "client", "X-Forwarded-For", "6.6.6.6",
		"User-Agent", "test-agent")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	up := <-seen
	if up.path != "/v1/chat/completions" {
		t.Errorf("upstream path %q", up.path)
	}
	if got := gjson.GetBytes(up.body, "model").Str; got != "gpt-3.5-turbo" {
		t.Errorf("upstream model %q, want the name without the provider prefix", got)
	}
	if gjson.GetBytes(up.body, "metadata").Exists() || gjson.GetBytes(up.body, "stream_options").Exists() {
		t.Errorf("metadata and stream_options must not go upstream on a non-streaming request: %s", up.body)
	}
	if !strings.Contains(string(up.body), `"x_custom":  [1, 2]`) {
		t.Errorf("other bytes of the body must pass unchanged: %s", up.body)
	}
	if got := up.header.Get("Authorization"); got != "Bearer sk-upstream-secret" {
		t.Errorf("upstream Authorization %q", got)
	}
	for _, h := range []string{"Cookie", "X-Api-Key", "X-Forwarded-For"} {
		if up.header.Get(h) != "" {
			t.Errorf("client header %s was forwarded", h)
		}
	}
	if up.header.Get("User-Agent") != "test-agent" {
		t.Errorf("ordinary client headers should pass")
	}
	if got := gjson.Get(rec.Body.String(), "model").Str; got != "openai/gpt-3.5-turbo" {
		t.Errorf("response model %q, want the client-facing name", got)
	}
	if gjson.Get(rec.Body.String(), "choices.0.message.tool_calls.0.function.name").Str == "" {
		t.Errorf("tool call lost: %s", rec.Body)
	}
	if rec.Header().Get("X-AI-Gateway-Provider") != "openai" {
		t.Errorf("missing X-AI-Gateway-Provider")
	}
}

// sseEvents splits a recorded client response into data payloads.
func sseEvents(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(ev), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamingUsageChunkFollowsClientChoice(t *testing.T) {
	for _, asked := range []bool{false, true} {
		base, seen := fakeUpstream(t, replay(t, "openai/chat_stream_tool_call.sse", "text/event-stream"))
		g := newGateway(t, base)
		opts := `"stream_options":{"include_obfuscation":false},`
		if asked {
			opts = `"stream_options":{"include_obfuscation":false,"include_usage":true},`
		}
		rec := post(t, g, `{"model":"openai/gpt-4o-mini","stream":true,`+opts+`"messages":[{"role":"user","content":"capital?"}]}`)
		up := <-seen
		if !gjson.GetBytes(up.body, "stream_options.include_usage").Bool() ||
			gjson.GetBytes(up.body, "stream_options.include_obfuscation").Bool() ||
			!gjson.GetBytes(up.body, "stream_options.include_obfuscation").Exists() {
			t.Fatalf("upstream stream_options must ask for usage and keep the client's others: %s", up.body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("content type %q", ct)
		}
		evs := sseEvents(rec.Body.String())
		if evs[len(evs)-1] != "[DONE]" {
			t.Fatalf("stream must end with [DONE]: %q", evs[len(evs)-1])
		}
		usageChunks := 0
		for _, e := range evs[:len(evs)-1] {
			if m := gjson.Get(e, "model").Str; m != "openai/gpt-4o-mini" {
				t.Errorf("chunk model %q", m)
			}
			if gjson.Get(e, "usage").IsObject() {
				usageChunks++
				if got := gjson.Get(e, "usage.total_tokens").Int(); got != 68 {
					t.Errorf("usage total %d, want the upstream's 68", got)
				}
			}
		}
		want := 0
		if asked {
			want = 1
		}
		if usageChunks != want {
			t.Errorf("include_usage=%v: %d usage chunks, want %d", asked, usageChunks, want)
		}
		args := ""
		for _, e := range evs[:len(evs)-1] {
			args += gjson.Get(e, "choices.0.delta.tool_calls.0.function.arguments").Str
		}
		if args != `{"country":"UK"}` {
			t.Errorf("tool arguments reassembled to %q", args)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	cases := []struct{ body, param string }{
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}]`, ""},
		{`[]`, ""},
		{`{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{`{"model":5,"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{`{"model":"openai/x"}`, "messages"},
		{`{"model":"openai/x","messages":[]}`, "messages"},
		{`{"model":"openai/x","messages":["hi"]}`, "messages[0]"},
		{`{"model":"openai/x","messages":[{"role":"user"},{"role":"wizard","content":"x"}]}`, "messages[1].role"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9000}`, "max_completion_tokens"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}`, "max_tokens"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"temperature":2.5}`, "temperature"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"top_p":"1"}`, "top_p"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream"},
		{`{"model":"openai/x","messages":[{"role":"user","content":"hi"}],"metadata":[1]}`, "metadata"},
	}
	for _, c := range cases {
		rec := post(t, g, c.body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", c.body, rec.Code)
			continue
		}
		b := rec.Body.String()
		if gjson.Get(b, "error.type").Str != "invalid_request_error" || gjson.Get(b, "error.message").Str == "" {
			t.Errorf("%s: not an OpenAI error: %s", c.body, b)
		}
		if got := gjson.Get(b, "error.param").Str; got != c.param {
			t.Errorf("%s: param %q, want %q", c.body, got, c.param)
		}
	}
}

func TestUnknownModelIs404(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1", func(c *Config) { c.Providers[0].Models = []string{"gpt-4o-mini"} })
	for _, m := range []string{"nope/gpt-4o", "openai/gpt-5", "gpt-4o"} {
		rec := post(t, g, `{"model":"`+m+`","messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != http.StatusNotFound || gjson.Get(rec.Body.String(), "error.code").Str != "model_not_found" ||
			!strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, m) {
			t.Errorf("%s: %d %s", m, rec.Code, rec.Body)
		}
	}
}

func TestRequestBodyLimit(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1", func(c *Config) { c.MaxRequestBody = 100 })
	rec := post(t, g, `{"model":"openai/x","messages":[{"role":"user","content":"`+strings.Repeat("a", 200)+`"}]}`)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Run("openai-shaped passes through", func(t *testing.T) {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
			w.WriteHeader(http.StatusBadRequest)
			replay(t, "openai/error_400_unsupported_value.json", "application/json")(w, r, b)
		})
		rec := post(t, newGateway(t, base), `{"model":"openai/o1-mini","messages":[{"role":"developer","content":"hi"}]}`)
		if rec.Code != 400 || gjson.Get(rec.Body.String(), "error.code").Str != "unsupported_value" ||
			gjson.Get(rec.Body.String(), "error.param").Str != "messages[0].role" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("plain text becomes openai-shaped", func(t *testing.T) {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "upstream overloaded", http.StatusServiceUnavailable)
		})
		rec := post(t, newGateway(t, base), `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != 503 || gjson.Get(rec.Body.String(), "error.type").Str != "service_unavailable_error" ||
			!strings.Contains(rec.Body.String(), "upstream overloaded") || rec.Header().Get("Retry-After") != "7" {
			t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("connection refused is 502", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		rec := post(t, newGateway(t, "http://"+addr+"/v1"), `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != 502 || strings.Contains(rec.Body.String(), "sk-upstream-secret") || strings.Contains(rec.Body.String(), addr) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("timeout is 504", func(t *testing.T) {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		g := newGateway(t, base, func(c *Config) { c.Providers[0].Timeout = 100 * time.Millisecond })
		rec := post(t, g, `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != 504 || gjson.Get(rec.Body.String(), "error.code").Str != "upstream_timeout" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestStreamCutMidwayEndsWithErrorEvent(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		// the connection closes here without finish_reason or [DONE]
	})
	rec := post(t, newGateway(t, base), `{"model":"openai/x","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	evs := sseEvents(rec.Body.String())
	if rec.Code != 200 || len(evs) != 2 {
		t.Fatalf("%d %q", rec.Code, evs)
	}
	if !gjson.Get(evs[1], "error.message").Exists() || strings.Contains(rec.Body.String(), "[DONE]") {
		t.Fatalf("a cut stream must end with an error event and no [DONE]: %q", evs)
	}
}

func TestStreamingErrorBeforeFirstEventIsAStatus(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`)
	})
	rec := post(t, newGateway(t, base), `{"model":"openai/x","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 429 || gjson.Get(rec.Body.String(), "error.code").Str != "rate_limit_exceeded" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestFirstChunkArrivesBeforeUpstreamFinishes(t *testing.T) {
	release := make(chan struct{})
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"first\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	})
	srv := httptest.NewServer(newGateway(t, base))
	defer srv.Close()
	defer close(release)
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"openai/x","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, `"content":"first"`) {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk did not reach the client while the upstream was still streaming")
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	var canceled atomic.Int64
	started := make(chan struct{})
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		close(started)
		t0 := time.Now()
		<-r.Context().Done()
		canceled.Store(int64(time.Since(t0)))
	})
	srv := httptest.NewServer(newGateway(t, base))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"openai/x","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(time.Second)
	for canceled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if canceled.Load() == 0 {
		t.Fatal("the upstream request was not canceled within 1s of the client going away")
	}
}

func TestModelsList(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1", func(c *Config) {
		c.Providers[0].Models = []string{"gpt-4o-mini", "gpt-4o"}
		c.Aliases = map[string]string{"fast": "openai/gpt-4o-mini"}
	})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/models", nil))
	ids := gjson.Get(rec.Body.String(), "data.#.id").String()
	if rec.Code != 200 || ids != `["fast","openai/gpt-4o","openai/gpt-4o-mini"]` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models/openai/gpt-4o", nil))
	if gjson.Get(rec.Body.String(), "id").Str != "openai/gpt-4o" || gjson.Get(rec.Body.String(), "owned_by").Str != "openai" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models/openai/gpt-9", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown model: %d", rec.Code)
	}
}

func TestClientKeys(t *testing.T) {
	base, _ := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
	g := newGateway(t, base, func(c *Config) { c.ClientKeys = []string{"k1", "k2"} })
	body := `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`
	for hdr, want := range map[string]int{"": 401, "Bearer nope": 401, "Bearer k2": 200, "k2": 401} {
		rec := post(t, g, body, "Authorization", hdr)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", hdr, rec.Code, want)
		}
		if want == 401 && gjson.Get(rec.Body.String(), "error.code").Str != "invalid_api_key" {
			t.Errorf("401 body %s", rec.Body)
		}
	}
}

func TestFallbackToNextKeyOnRetryableFailure(t *testing.T) {
	var calls atomic.Int32
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		replay(t, "openai/chat_tool_call.json", "application/json")(w, r, b)
	})
	g := newGateway(t, base, func(c *Config) { c.Providers[0].APIKeys = []string{"key-a", "key-b"} })
	rec := post(t, g, `{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || rec.Header().Get("X-AI-Gateway-Attempts") != "2" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	a, b := <-seen, <-seen
	if a.header.Get("Authorization") == b.header.Get("Authorization") {
		t.Fatalf("the retry must use the other key")
	}
}

// A base URL may carry credentials (user:password@, a key in its query): New's error must not quote them, as
// it goes to the server's log.
func TestBadBaseURLErrorDoesNotQuoteItsCredentials(t *testing.T) {
	for _, base := range []string{"ftp://user:s3cret-pass@example.com/v1", "https://user:s3cret-pass@exa mple.com/v1",
		"example.com/v1?key=s3cret-pass"} {
		_, err := New(Config{Providers: []Provider{{Name: "p", Dialect: transform.NewOpenAI(transform.OpenAIOptions{}),
			BaseURL: base}}})
		if err == nil {
			t.Fatalf("%s: no error", base)
		}
		if strings.Contains(err.Error(), "s3cret-pass") {
			t.Errorf("the error quotes the credential: %v", err)
		}
	}
}

// The error for a bad role names every role the gateway accepts.
func TestBadRoleErrorNamesEveryAcceptedRole(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:1/v1")
	rec := post(t, g, `{"model":"openai/x","messages":[{"role":"wizard","content":"x"}]}`)
	msg := gjson.Get(rec.Body.String(), "error.message").Str
	for role := range validRoles {
		if !strings.Contains(msg, role) {
			t.Errorf("the message does not name %q: %s", role, msg)
		}
	}
}
