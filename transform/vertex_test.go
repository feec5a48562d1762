package transform

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestVertexRequests(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":50}`)
	v := NewVertex(VertexOptions{Project: "acme", Location: "us-east5", Anthropic: AnthropicOptions{Beta: "context-1m-2025-08-07"}})
	cases := []struct {
		model  string
		stream bool
		path   string
	}{
		{"gemini-2.5-pro", false, "/v1/projects/acme/locations/us-east5/publishers/google/models/gemini-2.5-pro:generateContent"},
		{"gemini-2.5-pro", true, "/v1/projects/acme/locations/us-east5/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
		{"claude-sonnet-4-5@20250929", false, "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"},
		{"claude-sonnet-4-5@20250929", true, "/v1/projects/acme/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"},
	}
	for _, c := range cases {
		out, err := v.BuildRequest(&Request{Body: body, Model: c.model, Stream: c.stream})
		if err != nil || out.Path != c.path {
			t.Errorf("%s stream=%v: %v %v", c.model, c.stream, out, err)
			continue
		}
		if strings.HasPrefix(c.model, "claude") {
			g := gjson.ParseBytes(out.Body)
			if g.Get("anthropic_version").Str != VertexAnthropicVersion || g.Get("model").Exists() || g.Get("max_tokens").Int() != 50 ||
				out.Header.Get("anthropic-version") != "" || out.Header.Get("anthropic-beta") != "context-1m-2025-08-07" {
				t.Errorf("Claude request %s %v", out.Body, out.Header)
			}
		} else if !gjson.GetBytes(out.Body, "contents.0.parts.0.text").Exists() {
			t.Errorf("Gemini request %s", out.Body)
		}
	}
	if _, err := v.BuildRequest(&Request{Body: body, Model: "../x"}); err == nil {
		t.Error("a model with a slash went into the path")
	}
	if VertexBaseURL("global") != "https://aiplatform.googleapis.com" || VertexBaseURL("europe-west4") != "https://europe-west4-aiplatform.googleapis.com" {
		t.Error("base URLs")
	}
	req, _ := http.NewRequest("POST", "https://x", nil)
	if err := v.Authorize(req, ""); err == nil {
		t.Error("a request without credentials was authorized")
	}
	if err := v.Authorize(req, "AQ.api-key"); err != nil || req.Header.Get("x-goog-api-key") != "AQ.api-key" {
		t.Errorf("api key: %v %v", err, req.Header)
	}
	e := v.TranslateError(401, nil, []byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
	if e.Status != 401 || !strings.HasPrefix(e.Message, "vertex: ") || !strings.Contains(e.Message, "service account") {
		t.Errorf("401: %+v", e)
	}
	e = v.TranslateError(429, nil, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`))
	if e.Status != 429 || e.Message != "vertex: slow down" {
		t.Errorf("Anthropic-shaped error: %+v", e)
	}
}

// An explicit Gemini context cache reference passes through.
func TestGeminiCachedContent(t *testing.T) {
	for _, field := range []string{"cachedContent", "cached_content"} {
		body := []byte(`{"messages":[{"role":"user","content":"hi"}],"` + field + `":"cachedContents/abc123"}`)
		out, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Body: body, Model: "gemini-2.5-flash"})
		if err != nil || gjson.GetBytes(out.Body, "cachedContent").Str != "cachedContents/abc123" {
			t.Errorf("%s: %v %s", field, err, out.Body)
		}
	}
	_, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Body: []byte(`{"messages":[{"role":"user","content":"hi"}],"cachedContent":7}`), Model: "m"})
	if err == nil {
		t.Error("a non-string cachedContent was accepted")
	}
}
