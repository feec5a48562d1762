package transform

import (
	"bytes"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// implausibleCounts are token counts no upstream can mean: each one must make the usage unreported, in every
// dialect, streamed or not, so the engine counts locally (issue #10, item 4).
var implausibleCounts = []string{`-1000000`, `-1`, `12.5`, `"12"`, `1000000001`, `1e300`}

func TestEveryDialectTreatsImplausibleUsageAsUnreported(t *testing.T) {
	type dialectCase struct {
		name   string
		d      Dialect
		body   func(n string) string // a non-streamed answer whose prompt count is n
		stream func(n string) string // a stream whose prompt count is n
	}
	cases := []dialectCase{
		{
			name: "openai", d: NewOpenAI(OpenAIOptions{}),
			body: func(n string) string {
				return `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],` +
					`"usage":{"prompt_tokens":` + n + `,"completion_tokens":2,"total_tokens":3}}`
			},
			stream: func(n string) string {
				return `data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}` + "\n\n" +
					`data: {"id":"x","model":"m","choices":[],"usage":{"prompt_tokens":` + n + `,"completion_tokens":2,"total_tokens":3}}` + "\n\n" +
					"data: [DONE]\n\n"
			},
		},
		{
			name: "anthropic", d: NewAnthropic(AnthropicOptions{}),
			body: func(n string) string {
				return `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn",` +
					`"usage":{"input_tokens":` + n + `,"output_tokens":2}}`
			},
			stream: func(n string) string {
				return "event: message_start\n" +
					`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":` + n + `,"output_tokens":1}}}` + "\n\n" +
					"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}` + "\n\n" +
					"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"
			},
		},
		{
			name: "gemini", d: NewGemini(GeminiOptions{}),
			body: func(n string) string {
				return `{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],` +
					`"usageMetadata":{"promptTokenCount":` + n + `,"candidatesTokenCount":2,"totalTokenCount":3}}`
			},
			stream: func(n string) string {
				return `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],` +
					`"usageMetadata":{"promptTokenCount":` + n + `,"candidatesTokenCount":2,"totalTokenCount":3}}` + "\n\n"
			},
		},
		{
			name: "ollama", d: NewOllama(OllamaOptions{}),
			body: func(n string) string {
				return `{"model":"m","message":{"role":"assistant","content":"hi"},"done":true,"done_reason":"stop","prompt_eval_count":` + n + `,"eval_count":2}`
			},
			stream: func(n string) string {
				return `{"model":"m","message":{"role":"assistant","content":"hi"},"done":false}` + "\n" +
					`{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":` + n + `,"eval_count":2}` + "\n"
			},
		},
	}
	for _, c := range cases {
		req := &Request{ClientModel: "p/m", Model: "m"}
		sreq := &Request{ClientModel: "p/m", Model: "m", Stream: true}
		// The same answer with a plausible count is reported, so the cases below test the count alone.
		if _, u, err := c.d.TranslateResponse(req, []byte(c.body("1"))); err != nil || !u.Known() || u.PromptTokens != 1 {
			t.Fatalf("%s: a plausible answer gave usage %+v, error %v", c.name, u, err)
		}
		if u := streamUsage(t, c.d, sreq, c.stream("1")); !u.Known() || u.PromptTokens != 1 {
			t.Fatalf("%s: a plausible stream gave usage %+v", c.name, u)
		}
		for _, n := range implausibleCounts {
			_, u, err := c.d.TranslateResponse(req, []byte(c.body(n)))
			if err != nil {
				t.Errorf("%s, prompt count %s: %v", c.name, n, err)
			}
			if u.Known() {
				t.Errorf("%s, prompt count %s: usage %+v believed, want it unreported", c.name, n, u)
			}
			if u := streamUsage(t, c.d, sreq, c.stream(n)); u.Known() {
				t.Errorf("%s stream, prompt count %s: usage %+v believed, want it unreported", c.name, n, u)
			}
		}
	}
}

// streamUsage replays body through d's stream translator and returns the last usage it reported.
func streamUsage(t *testing.T, d Dialect, req *Request, body string) usage.Usage {
	t.Helper()
	tr := d.NewStream(req)
	var r EventReader = NewSSEReader(bytes.NewReader([]byte(body)), 0)
	if f, ok := d.(FramedDialect); ok {
		r = f.NewEventReader(bytes.NewReader([]byte(body)), 0)
	}
	sink, err := replayEvents(t, tr, r, false)
	if err != nil {
		t.Fatalf("replaying %q: %v", body, err)
	}
	if len(sink.usages) == 0 {
		return usage.Usage{}
	}
	return sink.usages[len(sink.usages)-1]
}
