package simulator

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const toolsAnthropic = `"tools":[{"name":"get_weather","input_schema":{"type":"object",` +
	`"properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},` +
	`"required":["location","unit","days"]}}]`

func TestAnthropicText(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/messages", anthropicBody), 200)
	if !strings.HasPrefix(got.Get("id").String(), "msg_") || got.Get("type").String() != "message" ||
		got.Get("model").String() != "claude-sonnet-4-5" || got.Get("role").String() != "assistant" {
		t.Errorf("message envelope %s", got.Raw)
	}
	if got.Get("content.0.type").String() != "text" || got.Get("content.0.text").String() != storyWords(20) {
		t.Errorf("content %s", got.Get("content").Raw)
	}
	if got.Get("stop_reason").String() != "end_turn" || got.Get("usage.output_tokens").Int() != 20 ||
		got.Get("usage.input_tokens").Int() <= 0 {
		t.Errorf("stop_reason or usage %s", got.Raw)
	}
}

func TestAnthropicStream(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5, ChunkTokens: 2})
	body := strings.Replace(anthropicBody, `{"model"`, `{"stream":true,"model"`, 1)
	events := mustEvents(t, post(t, srv, "/v1/messages", body))

	var names []string
	var text strings.Builder
	for _, ev := range events {
		names = append(names, ev.name)
		if gjson.Get(ev.data, "type").String() != ev.name {
			t.Errorf("event %s carries type %s", ev.name, gjson.Get(ev.data, "type"))
		}
		if ev.name == "content_block_delta" {
			text.WriteString(gjson.Get(ev.data, "delta.text").String())
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta " +
		"content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Errorf("events %v\nwant %s", names, want)
	}
	if text.String() != storyWords(5) {
		t.Errorf("text %q", text.String())
	}
	start, delta := gjson.Parse(events[0].data), gjson.Parse(events[len(events)-2].data)
	if !strings.HasPrefix(start.Get("message.id").String(), "msg_") || start.Get("message.model").String() != "claude-sonnet-4-5" {
		t.Errorf("message_start %s", events[0].data)
	}
	if delta.Get("delta.stop_reason").String() != "end_turn" || delta.Get("usage.output_tokens").Int() != 5 {
		t.Errorf("message_delta %s", delta.Raw)
	}
	if start.Get("message.usage.input_tokens").Int() != delta.Get("usage.input_tokens").Int() {
		t.Errorf("input tokens differ between message_start and message_delta")
	}
	fixture := append(fixtureEvents(t, "anthropic/messages_stream_text.sse"),
		fixtureEvents(t, "anthropic/messages_stream_text_parallel_tool_use.sse")...)
	for _, ev := range events {
		if m := missingKeys(ev.data, fixture...); len(m) > 0 {
			t.Errorf("fields a real Anthropic event does not have: %v in %s", m, ev.data)
		}
	}
}

func TestAnthropicToolUse(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"weather?"}],` + toolsAnthropic + `}`
	whole := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
	block := whole.Get("content.0")
	if block.Get("type").String() != "tool_use" || !strings.HasPrefix(block.Get("id").String(), "toolu_") ||
		block.Get("name").String() != "get_weather" || block.Get("input").Raw != wantArgs {
		t.Errorf("tool_use block %s", block.Raw)
	}
	if whole.Get("stop_reason").String() != "tool_use" {
		t.Errorf("stop_reason %s", whole.Get("stop_reason"))
	}

	events := mustEvents(t, post(t, srv, "/v1/messages", strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)))
	var args strings.Builder
	for _, ev := range events {
		if ev.name == "content_block_delta" {
			if gjson.Get(ev.data, "delta.type").String() != "input_json_delta" {
				t.Errorf("delta %s", ev.data)
			}
			args.WriteString(gjson.Get(ev.data, "delta.partial_json").String())
		}
	}
	if args.String() != wantArgs {
		t.Errorf("streamed input %s, want %s", args.String(), wantArgs)
	}
	if gjson.Get(events[1].data, "content_block.type").String() != "tool_use" {
		t.Errorf("content_block_start %s", events[1].data)
	}
	last := gjson.Parse(events[len(events)-2].data)
	if last.Get("delta.stop_reason").String() != "tool_use" ||
		last.Get("usage.output_tokens").Int() != whole.Get("usage.output_tokens").Int() {
		t.Errorf("message_delta %s", last.Raw)
	}
}

func TestAnthropicTextAfterToolResult(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"model":"c","max_tokens":100,"messages":[{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}],` + toolsAnthropic + `}`
	got := jsonBody(t, post(t, srv, "/v1/messages", body), 200)
	if got.Get("content.0.type").String() != "text" || got.Get("stop_reason").String() != "end_turn" {
		t.Errorf("want a text answer after a tool result: %s", got.Raw)
	}
}

func TestAnthropicRequiresVersionHeader(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/messages", anthropicBody, "anthropic-version", ""), 400)
	if got.Get("type").String() != "error" || got.Get("error.type").String() != "invalid_request_error" ||
		!strings.Contains(got.Get("error.message").String(), "anthropic-version") {
		t.Errorf("error %s", got.Raw)
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/messages/count_tokens",
		`{"model":"c","messages":[{"role":"user","content":"Tell me a story."}]}`, "anthropic-version", "2023-06-01"), 200)
	if got.Get("input_tokens").Int() <= 0 {
		t.Errorf("count %s", got.Raw)
	}
}
