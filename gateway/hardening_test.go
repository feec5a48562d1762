package gateway

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// dialects are the wire formats every hardening test runs against, with an answer and a request body each.
var dialects = []struct {
	name    string
	dialect func() transform.Dialect
}{
	{"openai", func() transform.Dialect { return transform.NewOpenAI(transform.OpenAIOptions{}) }},
	{"azure", func() transform.Dialect {
		return transform.NewOpenAI(transform.OpenAIOptions{Azure: &transform.AzureOptions{APIVersion: "2024-10-21"}})
	}},
	{"anthropic", func() transform.Dialect { return transform.NewAnthropic(transform.AnthropicOptions{}) }},
	{"gemini", func() transform.Dialect { return transform.NewGemini(transform.GeminiOptions{}) }},
	{"ollama", func() transform.Dialect { return transform.NewOllama(transform.OllamaOptions{}) }},
}

// A model name that would climb out of the deployment or model path is refused before any upstream is called.
func TestModelPathTraversalNeverReachesUpstream(t *testing.T) {
	for _, d := range dialects {
		if d.name != "azure" && d.name != "gemini" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			var calls atomic.Int32
			base, _ := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
				calls.Add(1)
				w.WriteHeader(http.StatusNotFound)
			})
			g := newGateway(t, base, func(c *Config) {
				c.Providers[0].Name, c.Providers[0].Dialect = "up", d.dialect()
			})
			for _, model := range []string{"up/..", "up/.", "up/../../v1/files"} {
				rec := post(t, g, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
				if rec.Code != http.StatusBadRequest || gjson.Get(rec.Body.String(), "error.param").Str != "model" ||
					strings.Contains(rec.Body.String(), base) {
					t.Errorf("model %s: %d %s", model, rec.Code, rec.Body)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("the upstream was contacted %d times", n)
			}
		})
	}
}
