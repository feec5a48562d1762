package transform

import (
	"errors"
	"testing"
)

// Model names that would change the upstream URL's path are refused before any request is built, in every
// dialect that puts the model into the path.
func TestModelInPathIsChecked(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	dialects := map[string]Dialect{
		"azure":  NewOpenAI(OpenAIOptions{Azure: &AzureOptions{APIVersion: "2024-10-21"}}),
		"gemini": NewGemini(GeminiOptions{}),
	}
	bad := []string{"", ".", "..", "../x", "a/b", `a\b`, "a/../../b", "x\x00y", "x\ny", "x\x7fy"}
	for name, d := range dialects {
		for _, model := range bad {
			out, err := d.BuildRequest(&Request{Body: body, Model: model})
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Type != "invalid_request_error" || e.Param != "model" {
				path := ""
				if out != nil {
					path = out.Path
				}
				t.Errorf("%s: model %q: err %v, path %q; want a 400 naming model", name, model, err, path)
			}
		}
		out, err := d.BuildRequest(&Request{Body: body, Model: "gpt 4o:latest?x#y"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := map[string]string{
			"azure":  "/openai/deployments/gpt%204o:latest%3Fx%23y/chat/completions?api-version=2024-10-21",
			"gemini": "/models/gpt%204o:latest%3Fx%23y:generateContent",
		}[name]; out.Path != want {
			t.Errorf("%s: path %q, want %q", name, out.Path, want)
		}
	}
	az := NewOpenAI(OpenAIOptions{Azure: &AzureOptions{Deployments: map[string]string{"gpt-4o": ".."}}})
	if _, err := az.BuildRequest(&Request{Body: body, Model: "gpt-4o"}); err == nil {
		t.Error("azure: a deployment name of '..' was put in the path")
	}
}
