package simulator

import (
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestOpenAIText(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/chat/completions", chatBody), 200)

	if id := got.Get("id").String(); !strings.HasPrefix(id, "chatcmpl-") {
		t.Errorf("id %q, want chatcmpl- prefix", id)
	}
	if got.Get("object").String() != "chat.completion" || got.Get("model").String() != "gpt-4o-mini" {
		t.Errorf("object/model wrong: %s", got.Raw)
	}
	content := got.Get("choices.0.message.content").String()
	if content != storyWords(DefaultCompletionTokens) {
		t.Errorf("content %q", content)
	}
	// OpenAI's completion_tokens include the token that ends the message.
	if n := len(strings.Fields(content)); got.Get("usage.completion_tokens").Int() != int64(n)+1 {
		t.Errorf("completion_tokens %d, answer has %d words", got.Get("usage.completion_tokens").Int(), n)
	}
	u := got.Get("usage")
	if u.Get("prompt_tokens").Int() <= 0 || u.Get("total_tokens").Int() != u.Get("prompt_tokens").Int()+u.Get("completion_tokens").Int() {
		t.Errorf("usage does not add up: %s", u.Raw)
	}
	if got.Get("choices.0.finish_reason").String() != "stop" {
		t.Errorf("finish_reason %s", got.Get("choices.0.finish_reason"))
	}
	fixture, err := os.ReadFile("../testdata/fixtures/openai/chat_tool_call.json")
	if err != nil {
		t.Fatal(err)
	}
	if m := missingKeys(got.Raw, string(fixture)); len(m) > 0 {
		t.Errorf("fields a real OpenAI response does not have: %v", m)
	}
}

func TestOpenAIStream(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 7, ChunkTokens: 3})
	events := mustEvents(t, post(t, srv, "/v1/chat/completions", chatStream))

	// role, 3 content chunks (3+3+1 words), finish, usage, [DONE]
	if len(events) != 7 {
		t.Fatalf("got %d events, want 7: %v", len(events), events)
	}
	if events[len(events)-1].data != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", events[len(events)-1].data)
	}
	id := gjson.Get(events[0].data, "id").String()
	if gjson.Get(events[0].data, "choices.0.delta.role").String() != "assistant" {
		t.Errorf("first chunk has no assistant role: %s", events[0].data)
	}
	var text strings.Builder
	for _, ev := range events[1:4] {
		text.WriteString(gjson.Get(ev.data, "choices.0.delta.content").String())
	}
	if text.String() != storyWords(7) {
		t.Errorf("streamed text %q", text.String())
	}
	finish := gjson.Parse(events[4].data)
	if finish.Get("choices.0.finish_reason").String() != "stop" || finish.Get("choices.0.delta").Raw != "{}" {
		t.Errorf("finish chunk %s", events[4].data)
	}
	usage := gjson.Parse(events[5].data)
	if usage.Get("choices").Raw != "[]" || usage.Get("usage.completion_tokens").Int() != 7+1 {
		t.Errorf("usage chunk %s", events[5].data)
	}
	for _, ev := range events[:6] {
		if gjson.Get(ev.data, "id").String() != id || gjson.Get(ev.data, "model").String() != "gpt-4o-mini" {
			t.Errorf("chunk with another id or model: %s", ev.data)
		}
	}
	fixture := fixtureEvents(t, "openai/chat_stream_tool_call.sse")
	for _, ev := range events[:6] {
		if m := missingKeys(ev.data, fixture...); len(m) > 0 {
			t.Errorf("fields a real OpenAI chunk does not have: %v in %s", m, ev.data)
		}
	}
}

func TestOpenAIStreamWithoutIncludeUsage(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 2})
	events := mustEvents(t, post(t, srv, "/v1/chat/completions",
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	for _, ev := range events {
		if strings.Contains(ev.data, `"usage"`) {
			t.Errorf("usage chunk sent without stream_options.include_usage: %s", ev.data)
		}
	}
	if len(events) != 5 { // role, 2 words, finish, [DONE]
		t.Errorf("got %d events, want 5", len(events))
	}
}

func TestOpenAIMaxTokensCapsAnswer(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/chat/completions",
		`{"model":"m","max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}]}`), 200)
	if got.Get("choices.0.message.content").String() != storyWords(5) || got.Get("usage.completion_tokens").Int() != 5 {
		t.Errorf("answer not capped at 5 tokens: %s", got.Raw)
	}
	if got.Get("choices.0.finish_reason").String() != "length" {
		t.Errorf("finish_reason %s, want length", got.Get("choices.0.finish_reason"))
	}
}

func TestOpenAIToolCall(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"model":"m","messages":[{"role":"user","content":"weather?"}],` + toolsOpenAI + `}`
	whole := jsonBody(t, post(t, srv, "/v1/chat/completions", body), 200)
	call := whole.Get("choices.0.message.tool_calls.0")
	if !strings.HasPrefix(call.Get("id").String(), "call_") || call.Get("function.name").String() != "get_weather" {
		t.Errorf("tool call %s", call.Raw)
	}
	if args := call.Get("function.arguments").String(); args != wantArgs {
		t.Errorf("arguments %s, want %s", args, wantArgs)
	}
	if whole.Get("choices.0.finish_reason").String() != "tool_calls" || whole.Get("choices.0.message.content").Type != gjson.Null {
		t.Errorf("finish_reason or content wrong: %s", whole.Raw)
	}

	streamBody := strings.Replace(body, `{"model":"m",`, `{"model":"m","stream":true,"stream_options":{"include_usage":true},`, 1)
	events := mustEvents(t, post(t, srv, "/v1/chat/completions", streamBody))
	var args strings.Builder
	fragments := 0
	for _, ev := range events[1:] {
		tc := gjson.Get(ev.data, "choices.0.delta.tool_calls.0")
		if !tc.Exists() {
			continue
		}
		if tc.Get("index").Int() != 0 {
			t.Errorf("tool call index %d", tc.Get("index").Int())
		}
		if tc.Get("id").Exists() != (fragments == 0) || tc.Get("type").Exists() != (fragments == 0) {
			t.Errorf("id and type must come only in the first fragment: %s", ev.data)
		}
		args.WriteString(tc.Get("function.arguments").String())
		fragments++
	}
	if args.String() != wantArgs {
		t.Errorf("streamed arguments %s, want %s", args.String(), wantArgs)
	}
	usage := gjson.Get(events[len(events)-2].data, "usage.completion_tokens").Int()
	if usage != whole.Get("usage.completion_tokens").Int() || int(usage) != fragments-1 {
		t.Errorf("streamed completion_tokens %d, non-streamed %d, argument fragments %d", usage,
			whole.Get("usage.completion_tokens").Int(), fragments-1)
	}
}

func TestOpenAIToolChoice(t *testing.T) {
	srv := startServer(t, Config{})
	tests := []struct {
		name, extra, wantTool string
	}{
		{"named tool", `"tool_choice":{"type":"function","function":{"name":"get_time"}},`, "get_time"},
		{"none", `"tool_choice":"none",`, ""},
		{"after tool result", `"tool_choice":"auto",`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			messages := `"messages":[{"role":"user","content":"weather?"}],`
			if tt.name == "after tool result" {
				messages = `"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,` +
					`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},` +
					`{"role":"tool","tool_call_id":"call_1","content":"sunny"}],`
			}
			got := jsonBody(t, post(t, srv, "/v1/chat/completions", `{"model":"m",`+messages+tt.extra+toolsOpenAI+`}`), 200)
			name := got.Get("choices.0.message.tool_calls.0.function.name").String()
			if name != tt.wantTool {
				t.Errorf("called %q, want %q", name, tt.wantTool)
			}
			if tt.wantTool == "get_time" && got.Get("choices.0.message.tool_calls.0.function.arguments").String() != "{}" {
				t.Errorf("arguments of a tool without required properties: %s", got.Raw)
			}
			want := storyWords(DefaultCompletionTokens)
			if tt.name == "after tool result" {
				want = "The tool returned: sunny"
			}
			if tt.wantTool == "" && got.Get("choices.0.message.content").String() != want {
				t.Errorf("want the text answer %q: %s", want, got.Raw)
			}
		})
	}
}

func TestModelsList(t *testing.T) {
	srv := startServer(t, Config{Models: []string{"gpt-4o-mini", "gpt-4o"}})
	resp, err := srv.Client().Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	got := jsonBody(t, resp, 200)
	if got.Get("object").String() != "list" || got.Get("data.#").Int() != 2 || got.Get("data.1.id").String() != "gpt-4o" {
		t.Errorf("models %s", got.Raw)
	}
}

func TestInvalidRequests(t *testing.T) {
	srv := startServer(t, Config{})
	tests := []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":`, "valid JSON"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"/v1/chat/completions", `{"model":"m","messages":[]}`, "messages"},
		{"/v1/messages", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, "max_tokens"},
		{"/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[]}`, "contents"},
		{"/v1/completions", chatBody, "prompt"},
		{"/v1/embeddings", `{"model":"text-embedding-3-small"}`, "input"},
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":""}`, "empty"},
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi","dimensions":0.5}`, "dimensions"},
		{"/v1/moderations", `{"model":"omni-moderation-latest"}`, "input"},
		{"/v1/rerank", `{"model":"r","query":"q","documents":[]}`, "documents"},
		{"/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[]}`, "requests"},
	}
	for _, tt := range tests {
		got := jsonBody(t, post(t, srv, tt.path, tt.body), 400)
		if !strings.Contains(got.Raw, tt.want) {
			t.Errorf("%s %s: error %s does not mention %s", tt.path, tt.body, got.Raw, tt.want)
		}
	}
	got := jsonBody(t, post(t, srv, "/v1/assistants", chatBody), 404)
	if got.Get("error.type").String() != "not_found_error" {
		t.Errorf("unknown path: %s", got.Raw)
	}
}
