package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// An upstream event whose JSON spans several data lines is valid SSE; relayed as it came, with its line
// breaks, it would reach the client as an event cut at the first line, "{".
func TestStreamEventOfSeveralDataLinesReachesClientWhole(t *testing.T) {
	base, _ := fakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\n" +
			"data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\r\n\r\n" +
			"data: [DONE]\n\n"))
	})
	g := newGateway(t, base)
	rec := post(t, g, `{"model":"openai/m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	events := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n\n"), "\n\n")
	if len(events) != 2 || events[1] != "data: [DONE]" {
		t.Fatalf("want one chunk and [DONE], got %q", rec.Body)
	}
	data, ok := strings.CutPrefix(events[0], "data: ")
	if !ok || strings.ContainsAny(data, "\r\n") || !json.Valid([]byte(data)) {
		t.Fatalf("the chunk is not one data line of JSON: %q", events[0])
	}
}
