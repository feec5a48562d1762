package transform

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// TestVertexBuildMessages: Claude's Messages requests go to rawPredict / streamRawPredict with the client's
// body byte for byte but for model removed and anthropic_version vertex-2023-10-16 added; the allowed betas
// go as the anthropic-beta header and nothing else does. Gemini models are not served natively.
func TestVertexBuildMessages(t *testing.T) {
	v := NewVertex(VertexOptions{Project: "acme", Location: "us-east5", Anthropic: AnthropicOptions{Betas: []string{"interleaved-thinking-2025-05-14"}}})
	if !v.NativeMessages("claude-sonnet-4-5@20250929") || v.NativeMessages("gemini-2.5-pro") {
		t.Error("NativeMessages: Claude models only")
	}
	h := http.Header{"Anthropic-Beta": {"interleaved-thinking-2025-05-14,oauth-2025-04-20"}, "Anthropic-Version": {"2023-06-01"}}
	for _, stream := range []bool{false, true} {
		body := claudeCodeBody
		path := "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
		if !stream {
			body = strings.Replace(body, `"stream":true,`, ``, 1)
			path = strings.Replace(path, "streamRawPredict", "rawPredict", 1)
		}
		out, err := v.BuildMessages(&Request{Body: []byte(body), Model: "claude-sonnet-4-5@20250929", Stream: stream, ClientHeader: h})
		if err != nil {
			t.Fatal(err)
		}
		if out.Path != path {
			t.Errorf("path %s", out.Path)
		}
		if len(out.Header) != 1 || out.Header.Get("anthropic-beta") != "interleaved-thinking-2025-05-14" {
			t.Errorf("headers %v", out.Header)
		}
		if gjson.GetBytes(out.Body, "anthropic_version").Str != VertexAnthropicVersion {
			t.Errorf("body %s", out.Body)
		}
		rest, _ := sjson.DeleteBytes(out.Body, "anthropic_version")
		orig, _ := sjson.DeleteBytes([]byte(body), "model")
		if !bytes.Equal(rest, orig) {
			t.Errorf("the body changed beyond model and version:\n%s\n%s", rest, orig)
		}
	}

	out, err := v.BuildCountTokens(&Request{Body: []byte(`{"model":"vertex/claude","messages":[{"role":"user","content":"Hi"}]}`),
		Model: "claude-sonnet-4-5@20250929", ClientHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict" ||
		gjson.GetBytes(out.Body, "model").Str != "claude-sonnet-4-5@20250929" || gjson.GetBytes(out.Body, "anthropic_version").Str != VertexAnthropicVersion {
		t.Errorf("count-tokens %s %s", out.Path, out.Body)
	}
}

// TestVertexMessagesError: an Anthropic-shaped error keeps its body and status; a Google RPC error becomes
// an Anthropic-shaped one with the mapped status.
func TestVertexMessagesError(t *testing.T) {
	v := NewVertex(VertexOptions{Project: "acme", Location: "global"})
	anth := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	e := v.TranslateMessagesError(529, nil, []byte(anth))
	if e.Status != 529 || string(AppendMessagesError(nil, e)) != anth {
		t.Errorf("%d %s", e.Status, AppendMessagesError(nil, e))
	}
	e = v.TranslateMessagesError(429, nil, []byte(`{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model","status":"RESOURCE_EXHAUSTED"}}`))
	b := gjson.ParseBytes(AppendMessagesError(nil, e))
	if e.Status != 429 || b.Get("error.type").Str != "rate_limit_error" || !strings.Contains(b.Get("error.message").Str, "Quota exceeded") {
		t.Errorf("%d %s", e.Status, b.Raw)
	}
}
