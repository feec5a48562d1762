package transform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeminiRequestReasoningEffort translates a request with reasoning_effort for each model family and
// compares the upstream body with testdata/gemini/thinking/<model>__<effort>[__thoughts].out.json
// (__thoughts: the dialect is configured with IncludeThoughts).
func TestGeminiRequestReasoningEffort(t *testing.T) {
	cases := []string{
		"gemini-3-pro-preview__high",
		"gemini-3-pro-preview__low__thoughts",
		"gemini-3-flash-preview__minimal",
		"gemini-3-flash-preview__medium",
		"gemini-2.5-flash__none",
		"gemini-2.5-flash__low__thoughts",
		"gemini-2.5-flash-lite__medium",
		"gemini-2.5-flash__high",
		"gemini-2.5-pro__none",
		"gemini-2.5-pro__xhigh",
		"gemini-2.0-flash__high",
		"gemini-2.0-flash__high__thoughts",
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			parts := strings.Split(name, "__")
			g := NewGemini(GeminiOptions{IncludeThoughts: len(parts) > 2})
			body := `{"model":"google/` + parts[0] + `","messages":[{"role":"user","content":"Why is the sky blue?"}],"max_completion_tokens":500,"reasoning_effort":"` + parts[1] + `"}`
			out, err := g.BuildRequest(&Request{Body: []byte(body), Model: parts[0], ClientModel: "google/" + parts[0]})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata/gemini/thinking", name+".out.json"), goldenRequest(t, out, nil))
		})
	}

	// An effort OpenAI does not define is refused, whatever the model.
	for _, effort := range []string{`"max"`, `3`, `""`} {
		_, err := NewGemini(GeminiOptions{}).BuildRequest(&Request{Model: "gemini-2.0-flash",
			Body: []byte(`{"messages":[{"role":"user","content":"x"}],"reasoning_effort":` + effort + `}`)})
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Param != "reasoning_effort" {
			t.Errorf("reasoning_effort %s: %v", effort, err)
		}
	}
}
