package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// postMessages sends body to path (…/messages or …/messages/count_tokens) with header pairs.
func postMessages(t *testing.T, g http.Handler, path, body string, hdr ...string) (*httptest.ResponseRecorder, *Result) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	res := g.(*Gateway).Serve(rec, req)
	return rec, res
}

// anthropicError checks an Anthropic-shaped error body of the given status and type.
func anthropicError(t *testing.T, rec *httptest.ResponseRecorder, status int, typ string) {
	t.Helper()
	b := rec.Body.Bytes()
	if rec.Code != status || gjson.GetBytes(b, "type").Str != "error" || gjson.GetBytes(b, "error.type").Str != typ ||
		gjson.GetBytes(b, "error.message").Str == "" || gjson.GetBytes(b, "error.code").Exists() {
		t.Errorf("got %d %s, want %d with an Anthropic %s body", rec.Code, b, status, typ)
	}
}

const messagesBody = `{"model":"anthropic/claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"EqQBsig=="},{"type":"text","text":"yo"}]},{"role":"user","content":"go on"}]}`

// TestMessagesPassthrough: to Anthropic the client's body goes as it is but for model, with its
// anthropic-version and anthropic-beta (filtered by allowed betas) and the provider's key; the answer comes
// back with the client's model name and its usage is accounted.
func TestMessagesPassthrough(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":7}}`)
	})
	g := newGateway(t, base, func(c *Config) {
		p := anthropicProvider(strings.TrimSuffix(base, "/v1"))
		p.Dialect = transform.NewAnthropic(transform.AnthropicOptions{Betas: []string{"interleaved-thinking-2025-05-14", "claude-code-20250219"}})
		c.Providers = []Provider{p}
		c.ClientKeys = []string{"client-key"}
	})
	rec, res := postMessages(t, g, "/v1/messages?beta=true", messagesBody, "x-api-key", "client-key",
		"anthropic-version", "2023-06-01", "anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c := <-seen
	want := strings.Replace(messagesBody, `"anthropic/claude-sonnet-4-5"`, `"claude-sonnet-4-5"`, 1)
	if c.path != "/v1/messages" || string(c.body) != want {
		t.Errorf("upstream got %s %s\nwant %s", c.path, c.body, want)
	}
	if c.header.Get("anthropic-version") != "2023-06-01" || c.header.Get("anthropic-beta") != "claude-code-20250219,interleaved-thinking-2025-05-14" ||
		c.header.Get("x-api-key") != "a-key" {
		t.Errorf("upstream headers %v", c.header)
	}
	if m := gjson.Get(rec.Body.String(), "model").Str; m != "anthropic/claude-sonnet-4-5" ||
		gjson.Get(rec.Body.String(), "usage.cache_read_input_tokens").Int() != 100 {
		t.Errorf("answer %s", rec.Body)
	}
	if res.Usage.PromptTokens != 117 || res.Usage.CachedTokens != 100 || res.Usage.CacheWriteTokens != 5 ||
		res.Usage.CompletionTokens != 7 || res.Endpoint != "messages" || !strings.HasPrefix(res.ClientKey, "key-") {
		t.Errorf("result %+v", res)
	}
}

// TestMessagesPassthroughStreamReplay relays a recorded Anthropic stream chunk for chunk.
func TestMessagesPassthroughStreamReplay(t *testing.T) {
	const fixture = "anthropic/messages_stream_text_parallel_tool_use.sse"
	base, _ := fakeUpstream(t, replay(t, fixture, "text/event-stream"))
	g := newGateway(t, base, func(c *Config) { c.Providers = []Provider{anthropicProvider(strings.TrimSuffix(base, "/v1"))} })
	rec, res := postMessages(t, g, "/v1/messages", `{"model":"anthropic/claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"tip?"}]}`)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", fixture))
	if err != nil {
		t.Fatal(err)
	}
	want := transform.NewSSEReader(bytes.NewReader(raw), 0)
	got := transform.NewSSEReader(bytes.NewReader(rec.Body.Bytes()), 0)
	n := 0
	for {
		w, werr := want.Next()
		if werr != nil {
			break
		}
		wname, wdata := string(w.Name), string(w.Data)
		g, gerr := got.Next()
		if gerr != nil {
			t.Fatalf("event %d (%s) missing", n, wname)
		}
		if string(g.Name) != wname {
			t.Errorf("event %d: %s, want %s", n, g.Name, wname)
		}
		if wname == "message_start" {
			if gjson.GetBytes(g.Data, "message.model").Str != "anthropic/claude-sonnet-4-5" {
				t.Errorf("message_start model not rewritten: %s", g.Data)
			}
		} else if string(g.Data) != wdata {
			t.Errorf("event %d changed:\n%s\nwant\n%s", n, g.Data, wdata)
		}
		n++
	}
	if _, err := got.Next(); err == nil {
		t.Error("the client got more events than the upstream sent")
	}
	if n < 20 || res.Usage.PromptTokens != 679 || res.Usage.CompletionTokens != 111 {
		t.Errorf("%d events, usage %+v", n, res.Usage)
	}
}

// TestMessagesPassthroughUpstreamErrors: Anthropic's error bodies reach the client as they are, with
// retry-after kept; an error event in the stream too.
func TestMessagesPassthroughUpstreamErrors(t *testing.T) {
	const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`
	const thinking = `{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid ` + "`signature`" + ` in ` + "`thinking`" + ` block"}}`
	status := http.StatusBadRequest
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		if status == 529 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(529)
			io.WriteString(w, overloaded)
			return
		}
		if status == 200 {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n")
			io.WriteString(w, "event: error\ndata: "+overloaded+"\n\n")
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, thinking)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = []Provider{anthropicProvider(strings.TrimSuffix(base, "/v1"))}
		c.Retry.MaxAttempts = 1
	})
	rec, _ := postMessages(t, g, "/v1/messages", messagesBody)
	if rec.Code != 400 || strings.TrimSpace(rec.Body.String()) != thinking {
		t.Errorf("400: %d %s", rec.Code, rec.Body)
	}
	status = 529
	rec, _ = postMessages(t, g, "/v1/messages", messagesBody)
	if strings.TrimSpace(rec.Body.String()) != overloaded || rec.Header().Get("Retry-After") != "7" || rec.Code != 529 {
		t.Errorf("529: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	status = 200
	rec, _ = postMessages(t, g, "/v1/messages", strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1))
	if !strings.HasSuffix(rec.Body.String(), "event: error\ndata: "+overloaded+"\n\n") {
		t.Errorf("stream error: %s", rec.Body)
	}
}

// TestMessagesTranslatedStream: an OpenAI upstream's recorded tool-call stream becomes Messages events,
// message_start carrying the locally counted input tokens and message_delta the upstream's usage.
func TestMessagesTranslatedStream(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/chat_stream_tool_call.sse", "text/event-stream"))
	g := newGateway(t, base, func(c *Config) { c.Aliases = map[string]string{"claude-*": "openai/gpt-4o-mini"} })
	rec, res := postMessages(t, g, "/v1/messages", `{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":true,`+
		`"thinking":{"type":"enabled","budget_tokens":31999},"tools":[{"name":"get_capital","input_schema":{"type":"object","properties":{"country":{"type":"string"}}}}],`+
		`"messages":[{"role":"user","content":"What is the capital of France? Use the tool."}]}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	c := <-seen
	if gjson.GetBytes(c.body, "model").Str != "gpt-4o-mini" || gjson.GetBytes(c.body, "max_completion_tokens").Int() != DefaultMaxOutputTokens ||
		gjson.GetBytes(c.body, "tools.0.function.name").Str != "get_capital" || !gjson.GetBytes(c.body, "stream_options.include_usage").Bool() {
		t.Errorf("upstream chat request %s", c.body)
	}
	if res.MaxTokensAsked != 32000 || res.MaxTokensSent != DefaultMaxOutputTokens {
		t.Errorf("clamp not recorded: %+v", res)
	}
	var names, events []string
	for _, e := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n\n") {
		name, data, _ := strings.Cut(e, "\n")
		names = append(names, strings.TrimPrefix(name, "event: "))
		events = append(events, strings.TrimPrefix(data, "data: "))
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "message_start,content_block_start,content_block_delta,") ||
		!strings.HasSuffix(got, ",content_block_delta,content_block_stop,message_delta,message_stop") || strings.Contains(got, "text") {
		t.Errorf("events %v", names)
	}
	start := events[0]
	if gjson.Get(start, "message.usage.input_tokens").Int() <= 0 || gjson.Get(start, "message.model").Str != "claude-sonnet-4-5-20250929" {
		t.Errorf("message_start %s", start)
	}
	var args strings.Builder
	for _, e := range events {
		args.WriteString(gjson.Get(e, "delta.partial_json").Str)
	}
	last := events[len(events)-2]
	if args.String() != `{"country":"UK"}` || gjson.Get(last, "delta.stop_reason").Str != "tool_use" ||
		int(gjson.Get(last, "usage.output_tokens").Int()) != res.Usage.CompletionTokens || res.Usage.CompletionTokens == 0 {
		t.Errorf("arguments %q, message_delta %s, usage %+v", args.String(), last, res.Usage)
	}
}

// TestMessagesCountTokens: Anthropic's own count through an Anthropic provider; the gateway's local count,
// with no upstream request, for the others.
func TestMessagesCountTokens(t *testing.T) {
	base, seen := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"input_tokens":4242}`)
	})
	g := newGateway(t, base, func(c *Config) {
		c.Providers = append(c.Providers, anthropicProvider(strings.TrimSuffix(base, "/v1")))
	})
	body := `{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"Hello there, how are you today?"}]}`
	rec, res := postMessages(t, g, "/v1/messages/count_tokens?beta=true", body, "anthropic-beta", "token-counting-2024-11-01")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"input_tokens":4242}` || res.Endpoint != "messages_count_tokens" {
		t.Fatalf("anthropic: %d %s", rec.Code, rec.Body)
	}
	if c := <-seen; c.path != "/v1/messages/count_tokens" || gjson.GetBytes(c.body, "model").Str != "claude-sonnet-4-5" ||
		c.header.Get("anthropic-beta") != "token-counting-2024-11-01" {
		t.Errorf("upstream got %s %s %v", c.path, c.body, c.header)
	}

	short, _ := postMessages(t, g, "/v1/messages/count_tokens", strings.Replace(body, "anthropic/claude-sonnet-4-5", "openai/gpt-4o", 1))
	long, _ := postMessages(t, g, "/v1/messages/count_tokens", `{"model":"openai/gpt-4o","system":"Be brief.","messages":[{"role":"user","content":"Hello there, how are you today? Tell me about the weather in Paris."}]}`)
	n, m := gjson.Get(short.Body.String(), "input_tokens").Int(), gjson.Get(long.Body.String(), "input_tokens").Int()
	if short.Code != 200 || n <= 0 || m <= n {
		t.Errorf("local counts %d %s, %d %s", short.Code, short.Body, n, long.Body)
	}
	select {
	case c := <-seen:
		t.Errorf("a local count reached the upstream: %s", c.path)
	default:
	}
	rec, _ = postMessages(t, g, "/v1/messages/count_tokens", `{"model":"openai/gpt-4o","messages":[{"role":"system","content":"x"}]}`)
	anthropicError(t, rec, 400, "invalid_request_error")
}

// TestMessagesClientAuth: x-api-key is a client key on the Messages API (and only there); two different
// keys are refused; errors are Anthropic-shaped.
func TestMessagesClientAuth(t *testing.T) {
	base, _ := fakeUpstream(t, answer(3, 2))
	g := newGateway(t, base, func(c *Config) { c.ClientKeys = []string{"client-key"} })
	body := `{"model":"openai/gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	rec, viaX := postMessages(t, g, "/v1/messages", body, "x-api-key", "client-key")
	if rec.Code != 200 || gjson.Get(rec.Body.String(), "content.0.text").Str != "ok" || gjson.Get(rec.Body.String(), "usage.output_tokens").Int() != 2 {
		t.Fatalf("x-api-key: %d %s", rec.Code, rec.Body)
	}
	_, viaBearer := postMessages(t, g, "/v1/messages", body, "Authorization", "Bearer client-key")
	if viaX.ClientKey == "" || viaX.ClientKey != viaBearer.ClientKey {
		t.Errorf("identities %q and %q", viaX.ClientKey, viaBearer.ClientKey)
	}
	rec, _ = postMessages(t, g, "/v1/messages", body, "x-api-key", "client-key", "Authorization", "Bearer client-key")
	if rec.Code != 200 {
		t.Errorf("the same key twice: %d %s", rec.Code, rec.Body)
	}
	rec, _ = postMessages(t, g, "/v1/messages", body, "x-api-key", "client-key", "Authorization", "Bearer other")
	anthropicError(t, rec, 400, "invalid_request_error")
	rec, _ = postMessages(t, g, "/v1/messages", body, "x-api-key", "wrong")
	anthropicError(t, rec, 401, "authentication_error")
	rec, _ = postMessages(t, g, "/v1/messages/count_tokens", body)
	anthropicError(t, rec, 401, "authentication_error")
	rec, _ = postMessages(t, g, "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "x-api-key", "client-key")
	if rec.Code != 401 || gjson.Get(rec.Body.String(), "error.code").Str != "invalid_api_key" {
		t.Errorf("x-api-key on chat: %d %s", rec.Code, rec.Body)
	}
}

// TestMessagesGatewayErrors: validation, unknown models and rate limits answer in Anthropic's shape.
func TestMessagesGatewayErrors(t *testing.T) {
	base, _ := fakeUpstream(t, answer(3, 2))
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "rpm", Requests: ratelimit.Rate{Limit: 1, Window: time.Minute}})
		c.Claims = func(_ *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" || s.Model != "openai/limited" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "rpm", Key: "k"}}
		}
	})
	for body, want := range map[string]int{
		`{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}`:                                        400,
		`{"model":"openai/x","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`:                         400,
		`{"model":"openai/x","max_tokens":5,"messages":[]}`:                                                       400,
		`{"model":"openai/x","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"hi"}]}`:       400,
		`{"model":"openai/x","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video","url":"x"}]}]}`: 400,
		`{"model":"nobody/x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`:                         404,
		`{"model":"openai/x","max_tokens":5,"messages":[{"role":"user","content":"hi"}]`:                          400,
	} {
		rec, _ := postMessages(t, g, "/v1/messages", body)
		anthropicError(t, rec, want, transform.MessagesErrorType(want))
	}
	limited := `{"model":"openai/limited","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	if rec, _ := postMessages(t, g, "/v1/messages", limited); rec.Code != 200 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	rec, _ := postMessages(t, g, "/v1/messages", limited)
	anthropicError(t, rec, 429, "rate_limit_error")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/messages", nil)
	rw := httptest.NewRecorder()
	g.ServeHTTP(rw, req)
	if rw.Code != 405 || gjson.Get(rw.Body.String(), "type").Str != "error" {
		t.Errorf("GET: %d %s", rw.Code, rw.Body)
	}
}

// TestMessagesBudgetStopsARun: a spend budget stops an agent's run mid-task with an Anthropic-shaped 429,
// and the spend of the Messages API counts against it.
func TestMessagesBudgetStopsARun(t *testing.T) {
	base, _ := fakeUpstream(t, answer(10000, 10000)) // gpt-4o-mini: 0.0075 USD per turn
	g := newGateway(t, base, func(c *Config) {
		c.Limiter = mustRateLimiter(t, ratelimit.Rule{Name: "budget", Budget: ratelimit.Budget{USD: 0.01, Period: ratelimit.Day}})
		c.Claims = func(_ *http.Request, s LimitScope) []ratelimit.Claim {
			if s.Target != "" {
				return nil
			}
			return []ratelimit.Claim{{Rule: "budget", Key: "team"}}
		}
	})
	body := `{"model":"openai/gpt-4o-mini","max_tokens":32000,"stream":%s,"messages":[{"role":"user","content":"next step"}]}`
	rec, res := postMessages(t, g, "/v1/messages", fmt.Sprintf(body, "false"))
	if rec.Code != 200 || res.CostUSD <= 0 {
		t.Fatalf("first turn: %d %s cost %v", rec.Code, rec.Body, res.CostUSD)
	}
	rec, _ = postMessages(t, g, "/v1/messages", fmt.Sprintf(body, "true"))
	anthropicError(t, rec, 429, "rate_limit_error")
	if !strings.Contains(gjson.Get(rec.Body.String(), "error.message").Str, "budget") {
		t.Errorf("the error does not say a budget stopped it: %s", rec.Body)
	}
}

// TestClampOutputTokens lowers max_tokens and a thinking budget, and leaves smaller ones alone.
func TestClampOutputTokens(t *testing.T) {
	in := []byte(`{"max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":31999}}`)
	if got := string(clampOutputTokens(in, "max_tokens", 8192)); got != `{"max_tokens":8192,"thinking":{"type":"enabled","budget_tokens":8191}}` {
		t.Error(got)
	}
	if got := clampOutputTokens(in, "max_tokens", 64000); !bytes.Equal(got, in) {
		t.Error(string(got))
	}
	if got := string(clampOutputTokens([]byte(`{"max_output_tokens":100000}`), "max_output_tokens", modelOutputLimit("gpt-4o-mini"))); got != `{"max_output_tokens":16384}` {
		t.Error(got)
	}
	if modelOutputLimit("some-new-model") != 0 {
		t.Error("an unknown model has a limit")
	}
	// A higher max_output_tokens still stops at the target model's own limit.
	base, seen := fakeUpstream(t, answer(3, 2))
	g := newGateway(t, base, func(c *Config) { c.MaxOutputTokens = 100000 })
	rec, res := postMessages(t, g, "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":50000,"messages":[{"role":"user","content":"hi"}]}`)
	if c := <-seen; rec.Code != 200 || gjson.GetBytes(c.body, "max_completion_tokens").Int() != 16384 || res.MaxTokensAsked != 0 {
		t.Errorf("%d: upstream got %s", rec.Code, c.body)
	}
}

// TestMessagesSilentUpstreamGetsCountedUsage: an upstream reporting no usage gets the gateway's count in
// the Messages answer and in message_delta, and that count is what is accounted.
func TestMessagesSilentUpstreamGetsCountedUsage(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		base, _ := fakeUpstream(t, silentChunks("Hello", " there", " friend"))
		g := newGateway(t, base)
		rec, res := postMessages(t, g, "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"Say hello to my friend"}]}`)
		events := strings.Split(strings.TrimSpace(rec.Body.String()), "\n\n")
		start := strings.TrimPrefix(strings.SplitN(events[0], "\n", 2)[1], "data: ")
		delta := strings.TrimPrefix(strings.SplitN(events[len(events)-2], "\n", 2)[1], "data: ")
		if res.Usage.Origin.String() != "counted" || res.Usage.CompletionTokens < 3 || res.Usage.PromptTokens == 0 ||
			gjson.Get(delta, "usage.output_tokens").Int() != int64(res.Usage.CompletionTokens) || gjson.Get(delta, "usage.input_tokens").Int() != int64(res.Usage.PromptTokens) ||
			gjson.Get(start, "message.usage.input_tokens").Int() != int64(res.Usage.PromptTokens) {
			t.Errorf("usage %+v\nmessage_start %s\nmessage_delta %s", res.Usage, start, delta)
		}
	})
	t.Run("whole", func(t *testing.T) {
		base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there friend"},"finish_reason":"stop"}]}`)
		})
		g := newGateway(t, base)
		rec, res := postMessages(t, g, "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"Say hello to my friend"}]}`)
		b := rec.Body.String()
		if res.Usage.Origin.String() != "counted" || res.Usage.CompletionTokens != 3 || gjson.Get(b, "usage.output_tokens").Int() != 3 ||
			gjson.Get(b, "usage.input_tokens").Int() != int64(res.Usage.PromptTokens) || res.Usage.PromptTokens == 0 {
			t.Errorf("usage %+v, answer %s", res.Usage, b)
		}
	})
}
