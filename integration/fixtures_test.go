package integration

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestOpenAIFixtureReplays replays recorded OpenAI responses through a fake upstream and checks what the client
// receives: the upstream's bytes with only model replaced by the client-facing name, the upstream's usage-only
// chunk hidden or re-emitted (with the upstream's usage bytes) as the client asked, and [DONE] last.
func TestOpenAIFixtureReplays(t *testing.T) {
	var route func(w http.ResponseWriter, r *http.Request, body []byte)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) { route(w, r, body) })
	s := startGateway(t, providerBlock("openai", "openai", up.URL)+providerBlock("azure", "openai", up.URL))

	streams := []struct {
		file, clientModel, recordedModel string
	}{
		{"openai/chat_stream_tool_call.sse", "openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		{"openai/chat_stream_text_after_tool.sse", "openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18"},
		{"openai/azure_chat_stream_content_filter.sse", "azure/model-router", "gpt-5-nano-2025-08-07"},
	}
	for _, tc := range streams {
		for _, includeUsage := range []bool{true, false} {
			name := tc.file + map[bool]string{true: " with usage", false: " without usage"}[includeUsage]
			t.Run(name, func(t *testing.T) {
				recorded := fixture(t, tc.file)
				route = replaySSE(t, tc.file)
				body := `{"model":"` + tc.clientModel + `","stream":true,"messages":[{"role":"user","content":"x"}]}`
				if includeUsage {
					body = `{"model":"` + tc.clientModel + `","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`
				}
				resp := s.request(t.Context(), http.MethodPost, "/v1/chat/completions", body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				got, err := newSSEReader(resp.Body).all()
				if err != nil {
					t.Fatal(err)
				}

				var want []string
				var usageRaw, firstID string
				for _, ev := range splitEvents(recorded) {
					data := strings.TrimPrefix(strings.TrimRight(string(ev), "\r\n"), "data: ")
					if data == "[DONE]" {
						continue
					}
					if firstID == "" { // Azure's leading prompt-filter chunk has "id":""
						firstID = gjson.Get(data, "id").String()
					}
					if u := gjson.Get(data, "usage"); u.IsObject() && len(gjson.Get(data, "choices").Array()) == 0 {
						usageRaw = u.Raw
						continue
					}
					data = strings.Replace(data, `"model":"`+tc.recordedModel+`"`, `"model":"`+tc.clientModel+`"`, 1)
					data = strings.Replace(data, `"model":""`, `"model":"`+tc.clientModel+`"`, 1)
					want = append(want, data)
				}
				if usageRaw == "" {
					t.Fatal("fixture has no usage chunk")
				}
				n := len(want)
				if len(got) < n+1 || got[len(got)-1] != "[DONE]" {
					t.Fatalf("got %d events ending %q, want %d chunks then [DONE]", len(got), got[len(got)-1], n)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("event %d changed beyond model:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
				extra := got[n : len(got)-1]
				if !includeUsage {
					if len(extra) != 0 {
						t.Errorf("client did not ask for usage but got %q", extra)
					}
					return
				}
				if len(extra) != 1 {
					t.Fatalf("want exactly one usage chunk before [DONE], got %q", extra)
				}
				u := gjson.Parse(withoutCost(t, extra[0]))
				if u.Get("usage").Raw != usageRaw || u.Get("created").Int() == 0 || u.Get("choices").Raw != "[]" || u.Get("model").String() != tc.clientModel ||
					u.Get("object").String() != "chat.completion.chunk" || u.Get("id").String() != firstID {
					t.Errorf("usage chunk = %s\nwant the recorded usage %s (plus cost), choices [], id %q, a real created time, model %q",
						extra[0], usageRaw, firstID, tc.clientModel)
				}
			})
		}
	}

	t.Run("non-streamed tool call", func(t *testing.T) {
		route = replayJSON(t, http.StatusOK, "openai/chat_tool_call.json")
		st, h, got := s.post("/v1/chat/completions", `{"model":"openai/gpt-3.5-turbo","messages":[{"role":"user","content":"weather?"}]}`)
		if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, %q", st, h.Get("Content-Type"))
		}
		want := bytes.Replace(fixture(t, "openai/chat_tool_call.json"), []byte(`"model": "gpt-3.5-turbo-0125"`), []byte(`"model": "openai/gpt-3.5-turbo"`), 1)
		if got := withoutCost(t, string(got)); got != string(want) {
			t.Errorf("body changed beyond model:\n got %s\nwant %s", got, want)
		}
	})
}

// costField is the usage.cost the gateway appends when it knows the model's price.
var costField = regexp.MustCompile(`,"cost":[0-9.eE+-]+`)

// withoutCost returns body without the gateway's usage.cost, after checking that a cost, if any, is a
// non-negative number inside usage.
func withoutCost(t *testing.T, body string) string {
	t.Helper()
	if c := gjson.Get(body, "usage.cost"); c.Exists() && (c.Type != gjson.Number || c.Float() < 0) {
		t.Errorf("usage.cost = %s, want a non-negative number of USD", c.Raw)
	}
	return costField.ReplaceAllString(body, "")
}
