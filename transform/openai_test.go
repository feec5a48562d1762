package transform

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

func runOpenAIStream(t *testing.T, body string) (*recordingSink, error) {
	t.Helper()
	tr := NewOpenAI(OpenAIOptions{}).NewStream(&Request{ClientModel: "openai/gpt-4o-mini", Stream: true})
	return replayStream(t, tr, []byte(body), false)
}

func TestOpenAIStreamRelaysBytesAndHidesUsageChunk(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", "openai", "chat_stream_tool_call.sse"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := runOpenAIStream(t, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	events := strings.Split(strings.TrimSpace(string(raw)), "\n\n")
	// every upstream chunk but the usage-only one and [DONE] is relayed
	if len(sink.chunks) != len(events)-2 {
		t.Fatalf("%d chunks relayed from %d events", len(sink.chunks), len(events))
	}
	for i, c := range sink.chunks {
		c := string(c)
		want := strings.Replace(strings.TrimPrefix(events[i], "data: "), `"model":"gpt-4o-mini-2024-07-18"`, `"model":"openai/gpt-4o-mini"`, 1)
		if c != want {
			t.Fatalf("chunk %d changed beyond model:\n got %s\nwant %s", i, c, want)
		}
	}
	if len(sink.usages) != 1 || sink.usages[0].PromptTokens != 53 || sink.usages[0].CompletionTokens != 15 ||
		sink.usages[0].Origin != usage.Reported || !strings.HasPrefix(string(sink.raw), `{"prompt_tokens":53`) {
		t.Fatalf("usage %+v raw %s", sink.usages, sink.raw)
	}
}

func TestOpenAIStreamAzureLeadingChunk(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", "openai", "azure_chat_stream_content_filter.sse"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := runOpenAIStream(t, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Azure's first chunk has choices [] but no usage: it is not the usage chunk and is relayed.
	if !strings.Contains(string(sink.chunks[0]), "prompt_filter_results") || len(sink.usages) != 1 || sink.usages[0].ReasoningTokens == 0 {
		t.Fatalf("first chunk %s, usage %+v", sink.chunks[0], sink.usages)
	}
}

func TestOpenAIStreamCutAndErrors(t *testing.T) {
	chunk := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}` + "\n\n"
	if _, err := runOpenAIStream(t, chunk); err == nil {
		t.Fatal("a stream that ends without finish_reason or [DONE] must be an error")
	}
	finished := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	if _, err := runOpenAIStream(t, chunk+finished); err != nil {
		t.Fatalf("a stream that finished but omitted [DONE] is complete: %v", err)
	}
	// finish_reason text inside a string, a null one in another choice, or one in a later choice.
	quoted := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\"finish_reason\":\"stop\" _reason\":\""},"finish_reason":null}]}` + "\n\n"
	if _, err := runOpenAIStream(t, quoted); err == nil {
		t.Fatal("finish_reason text inside content must not count as the stream's finish")
	}
	second := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":null},{"index":1,"delta":{},"finish_reason":"length"}]}` + "\n\n"
	if _, err := runOpenAIStream(t, chunk+second); err != nil {
		t.Fatalf("a finish_reason in the second choice finishes the stream: %v", err)
	}
	_, err := runOpenAIStream(t, chunk+`data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}`+"\n\n")
	if e, ok := err.(*Error); !ok || e.Error() != "overloaded" {
		t.Fatalf("in-stream error: %v", err)
	}
}

func TestOpenAIBuildRequest(t *testing.T) {
	o := NewOpenAI(OpenAIOptions{})
	out, err := o.BuildRequest(&Request{Body: []byte(`{"model":"openai/gpt-4o","stream":true,"stream_options":{"include_obfuscation":false},"models":["a/b"],"route":"fallback","metadata":{"k":"v"},"messages":[]}`),
		Model: "gpt-4o", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	b := string(out.Body)
	if gjson.Get(b, "model").Str != "gpt-4o" || !gjson.Get(b, "stream_options.include_usage").Bool() ||
		!gjson.Get(b, "stream_options.include_obfuscation").Exists() || gjson.Get(b, "models").Exists() ||
		gjson.Get(b, "route").Exists() || gjson.Get(b, "metadata").Exists() || out.Path != "/chat/completions" {
		t.Fatalf("%s %s", out.Path, b)
	}
	az := NewOpenAI(OpenAIOptions{Azure: &AzureOptions{APIVersion: "2024-10-21", Deployments: map[string]string{"gpt-4o": "prod"}}})
	out, _ = az.BuildRequest(&Request{Body: []byte(`{"model":"x","messages":[]}`), Model: "gpt-4o"})
	if out.Path != "/openai/deployments/prod/chat/completions?api-version=2024-10-21" {
		t.Fatalf("azure path %s", out.Path)
	}
	h := http.Header{}
	az.Authorize(&http.Request{Header: h}, "k")
	if h.Get("Api-Key") != "k" || h.Get("Authorization") != "" {
		t.Fatalf("azure auth %v", h)
	}
}

func TestOpenAIErrorNormalization(t *testing.T) {
	o := NewOpenAI(OpenAIOptions{})
	cases := []struct {
		status             int
		body               string
		typ, code, message string
	}{
		{400, `{"error":{"message":"bad","type":"invalid_request_error","param":"x","code":"c"}}`, "invalid_request_error", "c", "bad"},
		{400, `{"error":{"message":"vllm","type":"BadRequestError","param":null,"code":400}}`, "BadRequestError", "400", "vllm"},
		{400, `{"object":"error","message":"old vllm","type":"BadRequestError","param":null,"code":400}`, "BadRequestError", "400", "old vllm"},
		{404, `{"error":"model 'x' not found"}`, "not_found_error", "", "model 'x' not found"},
		{502, `<html>bad gateway</html>`, "server_error", "", "<html>bad gateway</html>"},
		{400, `{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","status":400}}`, "invalid_request_error", "content_filter", "filtered"},
	}
	for _, c := range cases {
		e := o.TranslateError(c.status, http.Header{}, []byte(c.body))
		out := string(e.AppendJSON(nil))
		if e.Status != c.status || gjson.Get(out, "error.type").Str != c.typ || gjson.Get(out, "error.code").Str != c.code ||
			!strings.Contains(gjson.Get(out, "error.message").Str, c.message) || gjson.Get(out, "error.code").Type == gjson.Number {
			t.Errorf("%s -> %d %s", c.body, e.Status, out)
		}
	}
}

func TestOpenAIStreamUsageWithSpaces(t *testing.T) {
	// Python servers write JSON with ": " separators.
	body := `data: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": null}` + "\n\n" +
		`data: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}` + "\n\ndata: [DONE]\n\n"
	sink, err := runOpenAIStream(t, body)
	if err != nil || len(sink.chunks) != 1 || len(sink.usages) != 1 || sink.usages[0].TotalTokens != 7 ||
		!strings.Contains(string(sink.chunks[0]), `"model": "openai/gpt-4o-mini"`) {
		t.Fatalf("err %v chunks %q usage %+v", err, sink.chunks, sink.usages)
	}
}

// A key written with an escape is the key JSON parsers read: "mod\u0065l" is the model the client sees.
func TestOpenAIStreamRewritesEscapedModelKey(t *testing.T) {
	sink, err := runOpenAIStream(t, `data: {"id":"c","mod\u0065l":"upstream-name","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.chunks) != 1 || strings.Contains(string(sink.chunks[0]), "upstream-name") || !strings.Contains(string(sink.chunks[0]), `"openai/gpt-4o-mini"`) {
		t.Fatalf("chunks %q", sink.chunks)
	}
}
