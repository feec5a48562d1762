package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// providerBlock is a provider subdirective with the test upstream key and extra lines.
func providerBlock(name, typ, baseURL string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\t\tprovider %s {\n\t\t\ttype %s\n\t\t\tbase_url %s\n\t\t\tapi_key %s\n", name, typ, baseURL, upstreamKey)
	for _, l := range extra {
		b.WriteString("\t\t\t" + l + "\n")
	}
	b.WriteString("\t\t}\n")
	return b.String()
}

// chatAnswer is a small non-streamed OpenAI answer with usage.
const chatAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`

// streamChunk is one OpenAI stream event; finish is the finish_reason ("" for none).
func streamChunk(content, finish string) []byte {
	delta, reason := `{"content":"`+content+`"}`, "null"
	if finish != "" {
		delta, reason = `{}`, `"`+finish+`"`
	}
	return []byte(`data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + reason + `}]}` + "\n\n")
}

const usageChunk = "data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," +
	"\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n"

func TestUpstreamSeesRewrittenModelAndOnlyItsOwnCredentials(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if gjson.GetBytes(body, "stream").Bool() {
			writeSSE(w, [][]byte{streamChunk("Hi", ""), streamChunk("", "stop"), []byte(usageChunk), []byte("data: [DONE]\n\n")})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(chatAnswer))
	})
	s := startGateway(t, providerBlock("openai", "openai", up.URL+"/v1")+"\t\talias fast openai/gpt-4o-mini\n")

	spoof := []string{
		"Cookie", "session=client-secret",
		"X-Api-Key", "client-x-api-key",
		"X-Forwarded-For", "6.6.6.6",
		"X-Forwarded-Host", "evil.example",
		"Forwarded", "for=6.6.6.6",
		"Anthropic-Beta", "client-chosen-feature",
		"X-Request-Tag", "dropped",
		"X-Request-Id", "req-kept",
	}
	for _, tc := range []struct{ path, model string }{
		{"/v1/chat/completions", "openai/gpt-4o-mini"},
		{"/api/v1/chat/completions", "fast"},
	} {
		t.Run(tc.path+" "+tc.model, func(t *testing.T) {
			in := `{"model":"` + tc.model + `","messages":[{"role":"user","content":"héllo \u00e9"}],"temperature":0.5,"x_vendor":{"a":[1, 2]}}`
			st, _, body := s.post(tc.path, in, spoof...)
			if st != http.StatusOK {
				t.Fatalf("status %d: %s", st, body)
			}
			if got := gjson.GetBytes(body, "model").String(); got != tc.model {
				t.Errorf("client sees model %q, want the name it asked for, %q", got, tc.model)
			}
			got := up.last(t)
			if got.Path != "/v1/chat/completions" {
				t.Errorf("upstream path = %q", got.Path)
			}
			want := strings.Replace(in, `"model":"`+tc.model+`"`, `"model":"gpt-4o-mini"`, 1)
			if string(got.Body) != want {
				t.Errorf("upstream body:\n got %s\nwant %s (only model may change)", got.Body, want)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+upstreamKey {
				t.Errorf("upstream Authorization = %q, want the provider's key", a)
			}
			for _, h := range []string{"Cookie", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "Anthropic-Beta", "X-Request-Tag"} {
				if v := got.Header.Values(h); len(v) > 0 {
					t.Errorf("client header %s reached the upstream: %q", h, v)
				}
			}
			for k, vs := range got.Header {
				for _, v := range vs {
					if strings.Contains(v, clientKey) {
						t.Errorf("the client's key reached the upstream in %s", k)
					}
				}
			}
			if v := got.Header.Get("X-Request-Id"); v != "req-kept" {
				t.Errorf("allow-listed client header X-Request-Id = %q upstream, want it forwarded", v)
			}
		})
	}

	t.Run("stream asks for usage and keeps stream_options", func(t *testing.T) {
		st, _, body := s.post("/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"x_keep":1},"metadata":{"user":"u1"},"messages":[{"role":"user","content":"hi"}]}`)
		if st != http.StatusOK {
			t.Fatalf("status %d: %s", st, body)
		}
		got := gjson.ParseBytes(up.last(t).Body)
		if !got.Get("stream_options.include_usage").Bool() || got.Get("stream_options.x_keep").Int() != 1 {
			t.Errorf("upstream stream_options = %s, want include_usage true and the client's x_keep", got.Get("stream_options").Raw)
		}
		if got.Get("metadata").Exists() {
			t.Errorf("metadata reached an upstream not configured for it: %s", got.Get("metadata").Raw)
		}
		if strings.Contains(string(body), `"usage"`) {
			t.Errorf("the client did not ask for usage but got a usage chunk:\n%s", body)
		}
		if !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
			t.Errorf("stream does not end with [DONE]:\n%s", body)
		}
	})
	t.Run("no stream_options when not streaming", func(t *testing.T) {
		st, _, _ := s.post("/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":false,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
		if st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
		if so := gjson.GetBytes(up.last(t).Body, "stream_options"); so.Exists() {
			t.Errorf("stream_options sent upstream on a non-streamed request: %s", so.Raw)
		}
	})
}

func TestStreamChunksReachClientBeforeUpstreamFinishes(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeSSE(w, [][]byte{streamChunk("first", "")})
		select { // the upstream is still generating until the test has seen the first chunk
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Second):
		}
		rc := http.NewResponseController(w)
		for _, ev := range [][]byte{streamChunk(" second", ""), streamChunk("", "stop"), []byte(usageChunk), []byte("data: [DONE]\n\n")} {
			_, _ = w.Write(ev)
			_ = rc.Flush()
		}
	})
	s := startGateway(t, providerBlock("openai", "openai", up.URL))

	start := time.Now()
	resp := s.request(context.Background(), http.MethodPost, "/v1/chat/completions",
		`{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := newSSEReader(resp.Body)
	type result struct {
		data string
		err  error
	}
	first := make(chan result, 1)
	go func() { d, err := events.next(); first <- result{d, err} }()
	select {
	case r := <-first:
		if r.err != nil {
			t.Fatalf("reading the first chunk: %v", r.err)
		}
		took := time.Since(start)
		t.Logf("first chunk reached the client %v after the request, while the upstream was still generating", took)
		if got := gjson.Get(r.data, "choices.0.delta.content").String(); got != "first" {
			t.Errorf("first chunk content = %q: %s", got, r.data)
		}
	case <-time.After(3 * time.Second):
		close(release)
		t.Fatal("no chunk reached the client while the upstream was still streaming: the gateway buffers")
	}
	close(release)
	rest, err := events.all()
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 4 || rest[len(rest)-1] != "[DONE]" || gjson.Get(rest[2], "usage.total_tokens").Int() != 7 {
		t.Errorf("rest of the stream = %q, want second chunk, finish chunk, usage chunk, [DONE]", rest)
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	canceled := make(chan time.Time, 1)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeSSE(w, [][]byte{streamChunk("first", "")})
		select {
		case <-r.Context().Done():
			canceled <- time.Now()
		case <-time.After(10 * time.Second):
		}
	})
	s := startGateway(t, providerBlock("openai", "openai", up.URL))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := s.request(ctx, http.MethodPost, "/v1/chat/completions",
		`{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if _, err := newSSEReader(resp.Body).next(); err != nil {
		t.Fatalf("reading the first chunk: %v", err)
	}
	gone := time.Now()
	cancel()
	select {
	case at := <-canceled:
		t.Logf("upstream request canceled %v after the client disconnected", at.Sub(gone))
	case <-time.After(time.Second):
		t.Fatal("the upstream request was still running 1s after the client disconnected")
	}
}

func TestUnknownPathsAre404UnlessFallthrough(t *testing.T) {
	up := newUpstream(t, replayJSON(t, http.StatusOK, "openai/chat_tool_call.json"))
	s := startGateway(t, providerBlock("openai", "openai", up.URL, "models gpt-4o-mini"))
	// Under the gateway's matcher, a path it does not serve is an OpenAI-shaped 404, never an empty 200.
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/v1/assistants"},
		{http.MethodGet, "/v1/files"},
	} {
		resp := s.request(context.Background(), tc.method, tc.path, `{}`)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || gjson.GetBytes(b, "error.code").String() != "unknown_url" {
			t.Errorf("%s %s answered %d %q, want a 404 unknown_url", tc.method, tc.path, resp.StatusCode, b)
		}
	}
	// Outside the matcher, the next handler answers.
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/chat/completions"},
		{http.MethodGet, "/"},
	} {
		resp := s.request(context.Background(), tc.method, tc.path, `{}`)
		b, _ := io.ReadAll(resp.Body)
		if want := "next handler: " + tc.method + " " + tc.path; string(b) != want {
			t.Errorf("%s %s answered %d %q, want %q", tc.method, tc.path, resp.StatusCode, b, want)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the provider received %d requests", n)
	}

	st, _, body := s.post("/api/v1/models", "", "Content-Type", "")
	if st != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/models = %d %s, want 405 from the gateway", st, body)
	}
	resp := s.request(context.Background(), http.MethodGet, "/api/v1/models", "")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || gjson.GetBytes(body, "object").String() != "list" ||
		gjson.GetBytes(body, "data.0.id").String() != "openai/gpt-4o-mini" ||
		!strings.Contains(gjson.GetBytes(body, "data.0.endpoints").Raw, `"embeddings"`) {
		t.Errorf("GET /api/v1/models = %d %s, want the configured model in OpenAI's list format", resp.StatusCode, body)
	}
	// fallthrough restores passing unknown paths to the next handler; gateway paths stay the gateway's.
	ft := startGateway(t, providerBlock("openai", "openai", up.URL, "models gpt-4o-mini")+"\t\tfallthrough\n")
	resp = ft.request(context.Background(), http.MethodPost, "/v1/assistants", `{}`)
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "next handler: POST /v1/assistants" {
		t.Errorf("with fallthrough: %d %q, want the next handler", resp.StatusCode, b)
	}
	if st, _, _ := ft.post("/v1/embeddings", `{"model":"openai/gpt-4o-mini"}`); st != http.StatusBadRequest {
		t.Errorf("with fallthrough, POST /v1/embeddings without input = %d, want the gateway's 400", st)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	usedPorts[l.Addr().(*net.TCPAddr).Port] = true // never a site's port
	l.Close()
	return addr
}
