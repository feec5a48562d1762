package simulator

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const responsesWeather = `{"model":"gpt-5","input":[{"role":"user","content":"Weather in Paris?"}],` +
	`"tools":[{"type":"web_search"},{"type":"function","name":"get_weather","parameters":{"type":"object",` +
	`"properties":{"city":{"type":"string"}},"required":["city"]}}]}`

func TestResponsesText(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/responses", `{"model":"gpt-5","input":"Tell me a story","reasoning":{"effort":"low"}}`), 200)
	if !strings.HasPrefix(got.Get("id").Str, "resp_") || got.Get("object").Str != "response" || got.Get("status").Str != "completed" {
		t.Errorf("response %s", got.Raw)
	}
	if got.Get("output.#.type").Raw != `["reasoning","message"]` {
		t.Fatalf("output %s", got.Get("output").Raw)
	}
	text := got.Get("output.1.content.0.text").Str
	if text != storyWords(DefaultCompletionTokens) {
		t.Errorf("text %q", text)
	}
	u := got.Get("usage")
	if u.Get("output_tokens").Int() != int64(DefaultCompletionTokens+thinkingFor("low")+1) ||
		u.Get("output_tokens_details.reasoning_tokens").Int() != int64(thinkingFor("low")) ||
		u.Get("total_tokens").Int() != u.Get("input_tokens").Int()+u.Get("output_tokens").Int() || u.Get("input_tokens").Int() <= 0 {
		t.Errorf("usage %s", u.Raw)
	}
}

func TestResponsesToolCallAndResult(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/responses", responsesWeather), 200)
	call := got.Get("output.0")
	if call.Get("type").Str != "function_call" || call.Get("name").Str != "get_weather" || !strings.HasPrefix(call.Get("call_id").Str, "call_") ||
		gjson.Parse(call.Get("arguments").Str).Get("city").Type != gjson.String {
		t.Fatalf("call %s", call.Raw)
	}
	next := `{"model":"gpt-5","input":[{"role":"user","content":"Weather in Paris?"},` + call.Raw +
		`,{"type":"function_call_output","call_id":"` + call.Get("call_id").Str + `","output":"21 degrees"}]}`
	got = jsonBody(t, post(t, srv, "/v1/responses", next), 200)
	if text := got.Get("output.0.content.0.text").Str; text != "The tool returned: 21 degrees" {
		t.Errorf("answer after the tool %q", text)
	}
}

func TestResponsesStructuredOutput(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/responses", `{"model":"gpt-5","input":"city?","text":{"format":{"type":"json_schema",`+
		`"name":"c","schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}}}`), 200)
	if v := gjson.Parse(got.Get("output.0.content.0.text").Str); v.Get("name").Type != gjson.String {
		t.Errorf("structured output %s", got.Get("output").Raw)
	}
}

func TestResponsesStreamEvents(t *testing.T) {
	srv := startServer(t, Config{ChunkTokens: 2})
	for _, tc := range []struct{ body, want string }{
		{`{"model":"gpt-5","input":"hi","stream":true,"reasoning":{"effort":"minimal"}}`,
			"created in_progress output_item.added reasoning_summary_part.added reasoning_summary_text.delta reasoning_summary_text.delta " +
				"reasoning_summary_text.done reasoning_summary_part.done output_item.done output_item.added content_part.added"},
		{strings.Replace(responsesWeather, `"model":"gpt-5"`, `"model":"gpt-5","stream":true`, 1),
			"created in_progress output_item.added function_call_arguments.delta"},
	} {
		events := mustEvents(t, post(t, srv, "/v1/responses", tc.body))
		var names []string
		deltas := ""
		var last gjson.Result
		for i, ev := range events {
			data := gjson.Parse(ev.data)
			if data.Get("type").Str != ev.name || data.Get("sequence_number").Int() != int64(i) {
				t.Fatalf("event %d: %s %s", i, ev.name, ev.data)
			}
			names = append(names, strings.TrimPrefix(ev.name, "response."))
			switch ev.name {
			case "response.output_text.delta", "response.function_call_arguments.delta":
				deltas += data.Get("delta").Str
			}
			last = data
		}
		if got := strings.Join(names, " "); !strings.HasPrefix(got, tc.want) || names[len(names)-1] != "completed" {
			t.Errorf("events %s", got)
		}
		final := last.Get("response.output.@reverse.0")
		whole := final.Get("content.0.text").Str + final.Get("arguments").Str
		if deltas != whole || whole == "" {
			t.Errorf("deltas %q, final item %s", deltas, final.Raw)
		}
		if last.Get("response.usage.output_tokens").Int() <= 0 {
			t.Errorf("usage %s", last.Get("response.usage").Raw)
		}
	}
}

func TestResponsesErrors(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1/responses", `{"model":"gpt-5"}`), 400)
	if !strings.Contains(got.Get("error.message").Str, "input") {
		t.Errorf("error %s", got.Raw)
	}
}
