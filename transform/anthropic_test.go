package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aibackend/caddy-ai-gateway/usage"
	"github.com/tidwall/gjson"
)

const anthropicFixtures = "../testdata/fixtures/anthropic"

// anthropicReplay feeds an SSE body through a fresh translator the way the engine does and returns the
// sink and the error that ended the stream, if any.
func anthropicReplay(t testing.TB, body []byte) (*recordingSink, error) {
	t.Helper()
	st := NewAnthropic(AnthropicOptions{}).NewStream(&Request{ClientModel: "anthropic/claude-sonnet-4-5", Stream: true})
	st.(*anthropicStream).created = 1700000000
	return replayStream(t, st, body, false)
}

// anthropicAccumulated is what an OpenAI SDK accumulator makes of a chunk stream.
type anthropicAccumulated struct {
	role, content, reasoning, finish string
	tools                            []struct{ id, name, args string }
}

func anthropicAccumulate(t *testing.T, chunks [][]byte) anthropicAccumulated {
	t.Helper()
	var acc anthropicAccumulated
	for i, c := range chunks {
		if !json.Valid(c) {
			t.Fatalf("chunk %d is not valid JSON: %s", i, c)
		}
		ch := gjson.ParseBytes(c)
		if ch.Get("id").String() == "" || ch.Get("object").String() != "chat.completion.chunk" ||
			ch.Get("model").String() != "anthropic/claude-sonnet-4-5" || ch.Get("created").Int() == 0 {
			t.Fatalf("chunk %d lacks id/object/model/created: %s", i, c)
		}
		choice := ch.Get("choices.0")
		d := choice.Get("delta")
		if r := d.Get("role").String(); r != "" {
			if i != 0 {
				t.Fatalf("role in chunk %d, want only in the first", i)
			}
			acc.role = r
		}
		if acc.finish != "" {
			t.Fatalf("chunk %d after the finish chunk: %s", i, c)
		}
		if f := choice.Get("finish_reason").String(); f != "" {
			if d.Raw != "{}" {
				t.Fatalf("finish chunk has a non-empty delta: %s", c)
			}
			acc.finish = f
		}
		acc.content += d.Get("content").String()
		acc.reasoning += d.Get("reasoning_content").String()
		d.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			idx := int(tc.Get("index").Int())
			if id := tc.Get("id").String(); id != "" {
				if idx != len(acc.tools) {
					t.Fatalf("new tool call with index %d, want %d", idx, len(acc.tools))
				}
				acc.tools = append(acc.tools, struct{ id, name, args string }{id: id, name: tc.Get("function.name").String()})
			} else if tc.Get("function.name").Exists() || tc.Get("type").Exists() {
				t.Fatalf("name or type repeated on a later fragment: %s", c)
			}
			if idx >= len(acc.tools) {
				t.Fatalf("arguments for unknown tool call %d: %s", idx, c)
			}
			acc.tools[idx].args += tc.Get("function.arguments").String()
			return true
		})
	}
	return acc
}

func TestAnthropicRequestToolChoice(t *testing.T) {
	const tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	cases := []struct{ extra, want string }{
		{`"tool_choice":"auto"`, `{"type":"auto"}`},
		{`"tool_choice":"none"`, `{"type":"none"}`},
		{`"tool_choice":"required"`, `{"type":"any"}`},
		{`"tool_choice":{"type":"function","function":{"name":"f"}}`, `{"type":"tool","name":"f"}`},
		{`"tool_choice":"auto","parallel_tool_calls":false`, `{"type":"auto","disable_parallel_tool_use":true}`},
		{`"tool_choice":"required","parallel_tool_calls":false`, `{"type":"any","disable_parallel_tool_use":true}`},
		{`"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false`, `{"type":"tool","name":"f","disable_parallel_tool_use":true}`},
		{`"tool_choice":"none","parallel_tool_calls":false`, `{"type":"none"}`},
		{`"parallel_tool_calls":false`, `{"type":"auto","disable_parallel_tool_use":true}`},
		{`"parallel_tool_calls":true`, ``},
		{``, ``},
	}
	for _, c := range cases {
		body := `{"messages":[{"role":"user","content":"x"}],` + tools
		if c.extra != "" {
			body += "," + c.extra
		}
		body += "}"
		out, err := NewAnthropic(AnthropicOptions{}).BuildRequest(&Request{Body: []byte(body), Model: "m"})
		if err != nil {
			t.Fatalf("%s: %v", c.extra, err)
		}
		if got := gjson.GetBytes(out.Body, "tool_choice").Raw; got != c.want {
			t.Errorf("%s: tool_choice %s, want %s", c.extra, got, c.want)
		}
	}
	_, err := NewAnthropic(AnthropicOptions{}).BuildRequest(&Request{Body: []byte(`{"messages":[{"role":"user","content":"x"}],` + tools + `,"tool_choice":"sometimes"}`)})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Param != "tool_choice" {
		t.Errorf("invalid tool_choice: %v, want a 400 naming tool_choice", err)
	}
}

func TestAnthropicRequestMaxTokensAndHeaders(t *testing.T) {
	a := NewAnthropic(AnthropicOptions{DefaultMaxTokens: 777, Beta: "output-128k-2025-02-19"})
	out, err := a.BuildRequest(&Request{Body: []byte(`{"messages":[{"role":"user","content":"x"}]}`), Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(out.Body, "max_tokens").Int(); got != 777 {
		t.Errorf("max_tokens %d, want the configured default 777", got)
	}
	if gjson.GetBytes(out.Body, "stream").Exists() {
		t.Errorf("stream sent for a non-streaming request: %s", out.Body)
	}
	if out.Header.Get("anthropic-version") != "2023-06-01" || out.Header.Get("anthropic-beta") != "output-128k-2025-02-19" {
		t.Errorf("headers %v", out.Header)
	}
	h := http.Header{}
	a.Authorize(&http.Request{Header: h}, "sk-ant-secret")
	if h.Get("x-api-key") != "sk-ant-secret" || h.Get("anthropic-version") != "2023-06-01" || h.Get("Authorization") != "" {
		t.Errorf("auth headers %v", h)
	}
	if NewAnthropic(AnthropicOptions{}).opts.DefaultMaxTokens != 4096 {
		t.Error("default max tokens is not 4096")
	}
	for _, body := range []string{`{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`,
		`{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":"many"}`, `not json`, `[1]`,
		`{"messages":"hi"}`, `{"messages":[]}`} {
		_, err := a.BuildRequest(&Request{Body: []byte(body)})
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Errorf("%s: got %v, want a 400", body, err)
		}
	}
}

// TestAnthropicStreamFixtures replays the recorded streams and compares the chunks with the golden files,
// then checks what an OpenAI client accumulates from them.
func TestAnthropicStreamFixtures(t *testing.T) {
	for _, name := range []string{"messages_stream_text", "messages_stream_text_parallel_tool_use", "messages_stream_thinking"} {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(anthropicFixtures, name+".sse"))
			if err != nil {
				t.Fatal(err)
			}
			sink, err := anthropicReplay(t, body)
			if err != nil {
				t.Fatalf("stream ended with %v", err)
			}
			golden(t, filepath.Join("testdata/anthropic/stream", name+".chunks"), append(bytes.Join(sink.chunks, []byte("\n")), '\n'))
			if len(sink.usages) != 1 {
				t.Fatalf("usage reported %d times, want once", len(sink.usages))
			}
			acc := anthropicAccumulate(t, sink.chunks)
			if acc.role != "assistant" {
				t.Errorf("role %q", acc.role)
			}
			u := sink.usages[0]
			switch name {
			case "messages_stream_text":
				if acc.content != "1\n2\n3\n4\n5" || acc.finish != "stop" || len(acc.tools) != 0 {
					t.Errorf("got %+v", acc)
				}
				if u.PromptTokens != 15 || u.CompletionTokens != 13 || u.Origin != usage.Reported {
					t.Errorf("usage %+v", u)
				}
			case "messages_stream_text_parallel_tool_use":
				if acc.content != "I'll calculate the tip and get the waiter's name for you." || acc.finish != "tool_calls" {
					t.Errorf("got %+v", acc)
				}
				if len(acc.tools) != 2 ||
					acc.tools[0].id != "toolu_01UhMrWkCgWyQ9rMPESVvW7Q" || acc.tools[0].name != "calculateTip" ||
					acc.tools[0].args != `{"billAmount": 50, "tipPercentage": 15}` ||
					acc.tools[1].id != "toolu_01TegCH28tEiPxz2ecyuYFh9" || acc.tools[1].name != "getWaiterName" ||
					acc.tools[1].args != `{}` {
					t.Errorf("tool calls %+v", acc.tools)
				}
				if u.PromptTokens != 679 || u.CompletionTokens != 111 || u.TotalTokens != 790 || u.Origin != usage.Reported {
					t.Errorf("usage %+v", u)
				}
				for _, c := range sink.chunks {
					if bytes.Contains(c, []byte(`"arguments":""}`)) && !bytes.Contains(c, []byte(`"id":`)) {
						t.Errorf("empty argument fragment sent: %s", c)
					}
				}
			case "messages_stream_thinking":
				if !strings.HasPrefix(acc.reasoning, "This is a straightforward question about pedestrian safety.") ||
					strings.Contains(acc.content, "pedestrian safety. I should") ||
					!strings.HasPrefix(acc.content, "Here are the basic steps for safely crossing the street:") ||
					acc.finish != "stop" {
					t.Errorf("reasoning %q\ncontent %q\nfinish %q", acc.reasoning, acc.content, acc.finish)
				}
				if u.PromptTokens != 43 || u.CompletionTokens == 0 {
					t.Errorf("usage %+v", u)
				}
			}
		})
	}
}

const anthropicStreamHead = "event: message_start\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":1}}  }` + "\n\n" +
	"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}` + "\n\n"

func TestAnthropicStreamErrorEvent(t *testing.T) {
	body := anthropicStreamHead + "event: error\n" +
		`data: {"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"} }` + "\n\n"
	sink, err := anthropicReplay(t, []byte(body))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *Error", err)
	}
	if e.Status != 503 || e.Code != "overloaded" || !strings.Contains(e.Message, "Overloaded") {
		t.Errorf("error %+v, want 503 overloaded", e)
	}
	if len(sink.usages) != 1 || sink.usages[0].PromptTokens != 35 || sink.usages[0].CachedTokens != 20 ||
		sink.usages[0].CacheWriteTokens != 5 || sink.usages[0].CompletionTokens != 1 {
		t.Errorf("usage %+v, want what message_start reported (35 prompt, 20 cached, 5 written, 1 output)", sink.usages)
	}
	if acc := anthropicAccumulate(t, sink.chunks); acc.content != "Hel" || acc.finish != "" {
		t.Errorf("chunks before the error %+v", acc)
	}
}

func TestAnthropicStreamCut(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(anthropicFixtures, "messages_stream_text_parallel_tool_use.sse"))
	if err != nil {
		t.Fatal(err)
	}
	cut := body[:bytes.Index(body, []byte(`"partial_json":", \"tipPe"`))]
	cut = cut[:bytes.LastIndex(cut, []byte("event:"))]
	sink, err := anthropicReplay(t, cut)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "cut") {
		t.Fatalf("got %v, want an *Error saying the stream was cut", err)
	}
	if e.Code != "upstream_stream_cut" || e.Kind != KindNoAnswer {
		t.Errorf("code %q kind %v, want upstream_stream_cut, no_answer (what retries read)", e.Code, e.Kind)
	}
	if len(sink.usages) != 1 || sink.usages[0].PromptTokens != 679 {
		t.Errorf("usage %+v, want the 679 input tokens that arrived, reported once", sink.usages)
	}
	acc := anthropicAccumulate(t, sink.chunks)
	if acc.finish != "" || len(acc.tools) != 1 || acc.tools[0].args != `{"billAmount": 50` {
		t.Errorf("got %+v", acc)
	}
}

func TestAnthropicStreamIgnoresPingAndLateEvents(t *testing.T) {
	body := anthropicStreamHead + "event: ping\ndata: {\"type\": \"ping\"}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	sink, err := anthropicReplay(t, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	acc := anthropicAccumulate(t, sink.chunks)
	if acc.content != "Hel" || acc.finish != "stop" || len(sink.usages) != 1 {
		t.Errorf("got %+v usages %d; a message_stop without message_delta must still finish with stop", acc, len(sink.usages))
	}
	if len(sink.chunks) != 3 {
		t.Errorf("%d chunks, want role, text, finish", len(sink.chunks))
	}
}

func TestAnthropicResponse(t *testing.T) {
	body := `{"id":"msg_01X","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
 "content":[{"type":"thinking","thinking":"Need the tool.","signature":"sig"},{"type":"text","text":"I'll calculate the tip..."},
            {"type":"tool_use","id":"toolu_01A","name":"calculateTip","input":{"billAmount": 50, "tipPercentage": 15}},
            {"type":"tool_use","id":"toolu_01B","name":"getWaiterName","input":{}}],
 "stop_reason":"tool_use","stop_sequence":null,
 "usage":{"input_tokens":679,"output_tokens":111,"cache_creation_input_tokens":3,"cache_read_input_tokens":100}}`
	out, u, err := NewAnthropic(AnthropicOptions{}).TranslateResponse(&Request{ClientModel: "anthropic/claude-sonnet-4-5"}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	r := gjson.ParseBytes(out)
	checks := map[string]string{
		"id": "chatcmpl-msg_01X", "object": "chat.completion", "model": "anthropic/claude-sonnet-4-5",
		"choices.0.message.role": "assistant", "choices.0.message.content": "I'll calculate the tip...",
		"choices.0.message.reasoning_content": "Need the tool.", "choices.0.finish_reason": "tool_calls",
		"choices.0.message.tool_calls.0.id": "toolu_01A", "choices.0.message.tool_calls.0.type": "function",
		"choices.0.message.tool_calls.0.function.name":      "calculateTip",
		"choices.0.message.tool_calls.0.function.arguments": `{"billAmount":50,"tipPercentage":15}`,
		"choices.0.message.tool_calls.1.function.arguments": `{}`,
		"usage.prompt_tokens":                               "782", "usage.completion_tokens": "111", "usage.total_tokens": "893",
		"usage.prompt_tokens_details.cached_tokens": "100",
	}
	for path, want := range checks {
		if got := r.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if d := time.Since(time.Unix(r.Get("created").Int(), 0)); d < 0 || d > time.Minute {
		t.Errorf("created %d is not now", r.Get("created").Int())
	}
	if u.PromptTokens != 782 || u.CachedTokens != 100 || u.CacheWriteTokens != 3 || u.CompletionTokens != 111 || u.Origin != usage.Reported {
		t.Errorf("usage %+v", u)
	}

	for stop, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
		"max_tokens": "length", "model_context_window_exceeded": "length", "refusal": "content_filter"} {
		out, _, err := NewAnthropic(AnthropicOptions{}).TranslateResponse(&Request{}, []byte(`{"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":"`+stop+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(out, "choices.0.finish_reason").String(); got != want {
			t.Errorf("stop_reason %s -> %s, want %s", stop, got, want)
		}
	}
	if _, _, err := NewAnthropic(AnthropicOptions{}).TranslateResponse(&Request{}, []byte("<html>")); err == nil {
		t.Error("non-JSON body accepted")
	}
}

func TestAnthropicTranslateError(t *testing.T) {
	notFound, err := os.ReadFile(filepath.Join(anthropicFixtures, "error_404_not_found.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnthropic(AnthropicOptions{})
	cases := []struct {
		name   string
		status int
		h      http.Header
		body   string
		want   Error
	}{
		{"404 fixture", 404, nil, string(notFound), Error{Status: 404, Type: "not_found_error", Code: "model_not_found"}},
		{"529 without retry-after", 529, http.Header{}, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			Error{Status: 503, Type: "service_unavailable_error", Code: "overloaded", RetryAfter: time.Second}},
		{"529 with retry-after", 529, http.Header{"Retry-After": {"7"}}, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			Error{Status: 503, Type: "service_unavailable_error", Code: "overloaded", RetryAfter: 7 * time.Second}},
		{"429", 429, http.Header{"Retry-After": {"12"}}, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`,
			Error{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded", RetryAfter: 12 * time.Second}},
		{"500", 500, nil, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`, Error{Status: 500, Type: "server_error"}},
		{"401", 401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, Error{Status: 401, Type: "authentication_error"}},
		{"403", 403, nil, `{"type":"error","error":{"type":"permission_error","message":"no access"}}`, Error{Status: 403, Type: "permission_error"}},
		{"400", 400, nil, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: text content blocks must be non-empty"}}`, Error{Status: 400, Type: "invalid_request_error"}},
		{"html 502", 502, nil, "<html>\n<body>Bad gateway</body></html>", Error{Status: 502, Type: "server_error"}},
	}
	for _, c := range cases {
		e := a.TranslateError(c.status, c.h, []byte(c.body))
		if e.Status != c.want.Status || e.Type != c.want.Type || e.Code != c.want.Code || e.RetryAfter != c.want.RetryAfter {
			t.Errorf("%s: got status %d type %s code %s retry %v, want %+v", c.name, e.Status, e.Type, e.Code, e.RetryAfter, c.want)
		}
		if !strings.HasPrefix(e.Message, "anthropic: ") || len(e.Message) < 15 {
			t.Errorf("%s: message %q does not say what happened", c.name, e.Message)
		}
		if !json.Valid(e.AppendJSON(nil)) {
			t.Errorf("%s: invalid JSON %s", c.name, e.AppendJSON(nil))
		}
	}
	e := a.TranslateError(401, nil, []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid key sk-ant-api03-abcdef123"}}`))
	if strings.Contains(e.Message, "abcdef123") {
		t.Errorf("message leaks the key: %s", e.Message)
	}
}

func TestAnthropicToolArgumentsAndDataURL(t *testing.T) {
	for in, want := range map[string]string{"": "{}", "  ": "{}", `{"a": 1}`: `{"a":1}`, `{}`: `{}`} {
		got, err := toolArgumentsObject(in)
		if err != nil || string(got) != want {
			t.Errorf("toolArgumentsObject(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{`{"a":`, `[1]`, `"s"`, `nope`} {
		if _, err := toolArgumentsObject(in); err == nil {
			t.Errorf("toolArgumentsObject(%q) accepted", in)
		}
	}
	mt, data, ok := parseDataURL("data:image/jpeg;base64,/9j/4AAQ")
	if !ok || mt != "image/jpeg" || data != "/9j/4AAQ" {
		t.Errorf("parseDataURL = %q %q %v", mt, data, ok)
	}
	if _, _, ok := parseDataURL("data:text/plain,hello"); ok {
		t.Error("non-base64 data URL accepted")
	}
	msgs := gjson.Parse(`[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"fa"}},{"id":"b","function":{"name":"fb"}}]}]`)
	if n, ok := toolCallName(msgs, "b"); !ok || n != "fb" {
		t.Errorf("toolCallName = %q %v", n, ok)
	}
	if _, ok := toolCallName(msgs, "c"); ok {
		t.Error("toolCallName found an unknown id")
	}
}
