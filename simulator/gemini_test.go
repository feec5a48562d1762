package simulator

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const toolsGemini = `"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT",` +
	`"properties":{"location":{"type":"STRING"},"unit":{"type":"STRING","enum":["celsius","fahrenheit"]},"days":{"type":"INTEGER"}},` +
	`"required":["location","unit","days"]}}]}]`

func TestGeminiText(t *testing.T) {
	srv := startServer(t, Config{})
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", geminiBody), 200)
	c := got.Get("candidates.0")
	if c.Get("content.role").String() != "model" || c.Get("content.parts.0.text").String() != storyWords(20) ||
		c.Get("finishReason").String() != "STOP" {
		t.Errorf("candidate %s", c.Raw)
	}
	u := got.Get("usageMetadata")
	if u.Get("candidatesTokenCount").Int() != 20 ||
		u.Get("totalTokenCount").Int() != u.Get("promptTokenCount").Int()+20 {
		t.Errorf("usageMetadata %s", u.Raw)
	}
	if got.Get("modelVersion").String() != "gemini-2.5-flash" {
		t.Errorf("modelVersion %s", got.Get("modelVersion"))
	}
}

func TestGeminiStream(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 5, ChunkTokens: 2})
	resp := post(t, srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiBody)
	raw := string(readAll(t, resp))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parts := strings.Split(raw, "\r\n\r\n")
	if len(parts) != 4 || parts[3] != "" { // 3 events (2+2+1 words), each ended by CRLF CRLF
		t.Fatalf("want 3 events framed by \\r\\n\\r\\n, got %q", raw)
	}
	var text strings.Builder
	var fixture []string
	for _, name := range []string{"stream_text_usage", "stream_function_call", "stream_text_after_thought_signature"} {
		fixture = append(fixture, fixtureEvents(t, "gemini/"+name+".sse")...)
	}
	for i, p := range parts[:3] {
		data, ok := strings.CutPrefix(p, "data: ")
		if !ok || !gjson.Valid(data) {
			t.Fatalf("event %q", p)
		}
		ev := gjson.Parse(data)
		text.WriteString(ev.Get("candidates.0.content.parts.0.text").String())
		if got, want := ev.Get("usageMetadata.candidatesTokenCount").Int(), []int64{2, 4, 5}[i]; got != want {
			t.Errorf("event %d: cumulative candidatesTokenCount %d, want %d", i, got, want)
		}
		if ev.Get("candidates.0.finishReason").Exists() != (i == 2) {
			t.Errorf("event %d: finishReason only on the last event: %s", i, data)
		}
		if m := missingKeys(data, fixture...); len(m) > 0 {
			t.Errorf("fields a real Gemini event does not have: %v", m)
		}
	}
	if text.String() != storyWords(5) || strings.Contains(raw, "[DONE]") {
		t.Errorf("text %q; raw %q", text.String(), raw)
	}
}

func TestGeminiStreamJSONArray(t *testing.T) {
	srv := startServer(t, Config{CompletionTokens: 3})
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", geminiBody), 200)
	if !got.IsArray() || got.Get("#").Int() != 3 || got.Get("2.candidates.0.finishReason").String() != "STOP" {
		t.Errorf("array stream %s", got.Raw)
	}
}

func TestGeminiFunctionCall(t *testing.T) {
	srv := startServer(t, Config{})
	body := `{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],` + toolsGemini + `}`
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-2.5-flash:generateContent", body), 200)
	part := got.Get("candidates.0.content.parts.0")
	if part.Get("functionCall.name").String() != "get_weather" || part.Get("functionCall.args").Raw != wantArgs {
		t.Errorf("function call %s", part.Raw)
	}
	if part.Get("thoughtSignature").Exists() || got.Get("candidates.0.finishReason").String() != "STOP" {
		t.Errorf("gemini-2.5 call: want no signature and STOP: %s", got.Raw)
	}

	resp := post(t, srv, "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse", body)
	events := mustEvents(t, resp)
	if len(events) != 1 {
		t.Fatalf("a function call arrives whole in one event; got %d", len(events))
	}
	part = gjson.Get(events[0].data, "candidates.0.content.parts.0")
	if part.Get("functionCall.args").Raw != wantArgs || part.Get("thoughtSignature").String() == "" {
		t.Errorf("gemini-3 call without thought signature: %s", part.Raw)
	}
}

func TestGeminiThoughtSignatureRequired(t *testing.T) {
	srv := startServer(t, Config{})
	history := func(signature string) string {
		return `{"contents":[{"role":"user","parts":[{"text":"weather?"}]},` +
			`{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}` + signature + `}]},` +
			`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}}]}],` + toolsGemini + `}`
	}
	got := jsonBody(t, post(t, srv, "/v1beta/models/gemini-3-pro-preview:generateContent", history("")), 400)
	if got.Get("error.status").String() != "INVALID_ARGUMENT" || !strings.Contains(got.Get("error.message").String(), "thought_signature") {
		t.Errorf("error %s", got.Raw)
	}
	got = jsonBody(t, post(t, srv, "/v1beta/models/gemini-3-pro-preview:generateContent", history(`,"thoughtSignature":"c2ln"`)), 200)
	if got.Get("candidates.0.content.parts.0.text").String() != `The tool returned: {"result":"sunny"}` {
		t.Errorf("want a text answer quoting the function response: %s", got.Raw)
	}
}
