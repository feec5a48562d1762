package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// scenarioHeader tells the scripted upstream how to answer; the providers that receive it forward it
// (forward_headers).
const scenarioHeader = "X-Test-Scenario"

// scripted answers as the scenario header says: an OpenAI error, a plain-text 500, a 503 with Retry-After,
// a stream cut after two chunks, a hang; anything else gets chatAnswer.
func scripted(t *testing.T) func(http.ResponseWriter, *http.Request, []byte) {
	openAI400 := fixture(t, "openai/error_400_unsupported_value.json")
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.Header.Get(scenarioHeader) {
		case "openai-400":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(openAI400)
		case "text-500":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html>internal oops</html>"))
		case "busy-503":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}`))
		case "cut":
			writeSSE(w, [][]byte{streamChunk("Hello", ""), streamChunk(" wor", "")})
			panic(http.ErrAbortHandler)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(chatAnswer))
		}
	}
}

func TestErrorsAreOpenAIShapedWithTheRightStatus(t *testing.T) {
	up := newUpstream(t, scripted(t))
	forward := "forward_headers " + scenarioHeader
	s := startGateway(t, providerBlock("openai", "openai", up.URL, "models gpt-4o-mini", forward)+
		providerBlock("down", "openai", "http://"+closedPort(t))+
		providerBlock("slow", "openai", up.URL, "timeout 300ms", forward)+
		"\t\tmax_request_body 16KB\n"+
		// one attempt and no cooldown, so each case sees its own failure and nothing else
		"\t\tretry {\n\t\t\tmax_attempts 1\n\t\t}\n\t\tcooldown {\n\t\t\toff\n\t\t}\n")

	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	big := `{"model":"openai/gpt-4o-mini",` + msgs + `,"pad":"` + strings.Repeat("x", 32<<10) + `"}`
	for _, tc := range []struct {
		name, body string
		headers    []string
		status     int
		typ, code  string
		param      string
	}{
		{name: "malformed JSON", body: `{"model":`, status: 400, typ: "invalid_request_error"},
		{name: "no messages", body: `{"model":"openai/gpt-4o-mini","messages":[]}`, status: 400, typ: "invalid_request_error", param: "messages"},
		{name: "bad role", body: `{"model":"openai/gpt-4o-mini","messages":[{"role":"wizard","content":"x"}]}`, status: 400, typ: "invalid_request_error", param: "messages"},
		{name: "temperature out of range", body: `{"model":"openai/gpt-4o-mini","temperature":3,` + msgs + `}`, status: 400, typ: "invalid_request_error", param: "temperature"},
		{name: "max_tokens too large", body: `{"model":"openai/gpt-4o-mini","max_tokens":100000,` + msgs + `}`, status: 400, typ: "invalid_request_error", param: "max_tokens"},
		{name: "no model and no default", body: `{` + msgs + `}`, status: 400, typ: "invalid_request_error", param: "model"},
		{name: "missing client key", body: `{"model":"openai/gpt-4o-mini",` + msgs + `}`, headers: []string{"Authorization", ""}, status: 401, code: "invalid_api_key"},
		{name: "wrong client key", body: `{"model":"openai/gpt-4o-mini",` + msgs + `}`, headers: []string{"Authorization", "Bearer sk-wrong"}, status: 401, code: "invalid_api_key"},
		{name: "unknown provider", body: `{"model":"nope/gpt-4o-mini",` + msgs + `}`, status: 404, code: "model_not_found"},
		{name: "model outside the allow-list", body: `{"model":"openai/gpt-4o",` + msgs + `}`, status: 404, code: "model_not_found"},
		{name: "body too large", body: big, status: 413, typ: "invalid_request_error"},
		{name: "upstream OpenAI 400 passes through", body: `{"model":"openai/gpt-4o-mini",` + msgs + `}`, headers: []string{scenarioHeader, "openai-400"}, status: 400, typ: "invalid_request_error", code: "unsupported_value", param: "messages[0].role"},
		{name: "upstream non-JSON 500", body: `{"model":"openai/gpt-4o-mini",` + msgs + `}`, headers: []string{scenarioHeader, "text-500"}, status: 500, typ: "server_error"},
		{name: "upstream 503", body: `{"model":"openai/gpt-4o-mini",` + msgs + `}`, headers: []string{scenarioHeader, "busy-503"}, status: 503, code: "overloaded"},
		{name: "connection refused", body: `{"model":"down/gpt-4o-mini",` + msgs + `}`, status: 502, typ: "server_error"},
		{name: "upstream timeout", body: `{"model":"slow/gpt-4o-mini",` + msgs + `}`, headers: []string{scenarioHeader, "hang"}, status: 504, typ: "server_error"},
		{name: "streamed upstream timeout before the first event", body: `{"model":"slow/gpt-4o-mini","stream":true,` + msgs + `}`, headers: []string{scenarioHeader, "hang"}, status: 504, typ: "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, body := s.post("/v1/chat/completions", tc.body, tc.headers...)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			e := assertOpenAIError(t, body, tc.typ, tc.code)
			if tc.param != "" && !strings.HasPrefix(e.Get("param").String(), tc.param) {
				t.Errorf("param = %q, want it to name %q", e.Get("param").String(), tc.param)
			}
			for _, secret := range []string{upstreamKey, clientKey, up.URL} {
				if strings.Contains(string(body), secret) {
					t.Errorf("error body leaks %q: %s", secret, body)
				}
			}
		})
	}

	t.Run("upstream 400 body is the provider's, byte for byte", func(t *testing.T) {
		_, _, body := s.post("/v1/chat/completions", `{"model":"openai/gpt-4o-mini",`+msgs+`}`, scenarioHeader, "openai-400")
		if want := fixture(t, "openai/error_400_unsupported_value.json"); strings.TrimSpace(string(body)) != strings.TrimSpace(string(want)) {
			t.Errorf("got %s\nwant %s", body, want)
		}
	})
	t.Run("retry-after passes through", func(t *testing.T) {
		_, h, _ := s.post("/v1/chat/completions", `{"model":"openai/gpt-4o-mini",`+msgs+`}`, scenarioHeader, "busy-503")
		if got := h.Get("Retry-After"); got != "7" {
			t.Errorf("Retry-After = %q, want 7", got)
		}
	})
	t.Run("stream cut mid-way ends with an error event and no [DONE]", func(t *testing.T) {
		resp := s.request(t.Context(), http.MethodPost, "/v1/chat/completions",
			`{"model":"openai/gpt-4o-mini","stream":true,`+msgs+`}`, scenarioHeader, "cut")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200 (the stream had begun)", resp.StatusCode)
		}
		events, err := newSSEReader(resp.Body).all()
		if err != nil {
			t.Fatalf("reading the stream: %v (events so far %q)", err, events)
		}
		if len(events) != 3 {
			t.Fatalf("events = %q, want the two chunks that arrived and one error event", events)
		}
		if gjson.Get(events[0], "choices.0.delta.content").String() != "Hello" {
			t.Errorf("first event = %s", events[0])
		}
		assertOpenAIError(t, []byte(events[2]), "server_error", "")
		for _, e := range events {
			if e == "[DONE]" {
				t.Error("a cut stream must not end with [DONE]: clients would take the truncated answer as complete")
			}
		}
	})
	t.Run("failures are logged with their status", func(t *testing.T) {
		// The access log has every request, with the gateway's error in its ai_gateway object; the handler's own
		// line (its logger at the default info level) only the failures the operator must see: the 5xx.
		logged := func(lines []gjson.Result, want int64, withError bool) bool {
			for _, l := range lines {
				if l.Get("status").Int() == want && (!withError || l.Get("ai_gateway.error").Str != "") {
					return true
				}
			}
			return false
		}
		access := s.accessLog(1)
		own := s.gatewayLog(1)
		for _, want := range []int64{401, 404, 413, 502, 504} {
			if !logged(access, want, true) {
				t.Errorf("no access log line with status %d and an ai_gateway.error", want)
			}
			if got := logged(own, want, false); got != (want >= 500) {
				t.Errorf("handler's own line with status %d: %v, want %v (only 5xx)", want, got, want >= 500)
			}
		}
		for _, l := range own {
			if l.Get("level").Str != "error" {
				t.Errorf("own line at level %s, want error: %s", l.Get("level").Str, l.Raw)
			}
		}
	})
}
