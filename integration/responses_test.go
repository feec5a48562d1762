package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestResponsesConform sends Responses API requests through a real Caddy, natively (OpenAI, a recorded
// Responses stream) and translated (Anthropic, recorded Messages streams), whole and streamed, and reads a
// kept response back: every exchange is checked against the OpenAPI document the gateway serves.
func TestResponsesConform(t *testing.T) {
	native := newUpstream(t, replaySSE(t, "openai/responses_stream_reasoning_tool_call.sse"))
	anth := newUpstream(t, replaySSE(t, "anthropic/messages_stream_text_parallel_tool_use.sse"))
	anthWhole := newUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hi"}],` +
			`"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`))
	})
	s := startGateway(t, providerBlock("openai", "openai", native.URL+"/v1")+providerBlock("anthropic", "anthropic", anth.URL)+
		providerBlock("whole", "anthropic", anthWhole.URL))
	st, _, body := s.post("/v1/responses", `{"model":"openai/gpt-5.1-codex-max","input":"57*10?","stream":true}`)
	if st != http.StatusOK || !strings.Contains(string(body), "event: response.completed") {
		t.Fatalf("native stream: %d %.300s", st, body)
	}
	st, _, body = s.post("/v1/responses", `{"model":"anthropic/claude-x","input":"tip?","stream":true,"tools":[{"type":"function","name":"calculateTip","parameters":{"type":"object"}}]}`)
	if st != http.StatusOK || !strings.Contains(string(body), "event: response.function_call_arguments.done") {
		t.Fatalf("translated stream: %d %.300s", st, body)
	}
	st, _, body = s.post("/v1/responses", `{"model":"whole/claude-x","input":"hi","instructions":"Be terse."}`)
	id := gjson.GetBytes(body, "id").Str
	if st != http.StatusOK || gjson.GetBytes(body, "output.0.content.0.text").Str != "Hi" {
		t.Fatalf("translated: %d %s", st, body)
	}
	for _, path := range []string{"/v1/responses/" + id, "/v1/responses/" + id + "/input_items"} {
		if resp := s.request(t.Context(), http.MethodGet, path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if resp := s.request(t.Context(), http.MethodDelete, "/v1/responses/"+id, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	if st, _, body := s.post("/v1/responses", `{"model":"whole/claude-x","input":"x","previous_response_id":"resp_unknown"}`); st != http.StatusBadRequest {
		t.Errorf("unknown previous_response_id: %d %s", st, body)
	}
}
