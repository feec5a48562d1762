package integration

import (
	"net/http"
	"testing"

	"github.com/tidwall/gjson"
)

func TestUsageReachesPlaceholdersAndAccessLog(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if gjson.GetBytes(body, "stream").Bool() {
			writeSSE(w, [][]byte{streamChunk("Hi", ""), streamChunk("", "stop"), []byte(usageChunk), []byte("data: [DONE]\n\n")})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(chatAnswer))
	})
	s := startGateway(t, providerBlock("openai", "openai", up.URL))

	for _, tc := range []struct {
		name, body                string
		prompt, completion, total int64
	}{
		{"non-streamed", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, 11, 7, 18},
		{"streamed, client asked for usage", `{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, 5, 2, 7},
		{"streamed, usage hidden from the client", `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, 5, 2, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.accessLog(0))
			if st, _, b := s.post("/v1/chat/completions", tc.body); st != http.StatusOK {
				t.Fatalf("status %d: %s", st, b)
			}
			access := s.accessLog(before + 1)[before]
			for _, f := range []struct {
				log, field string
				want       any
			}{
				{"access", "ai_gateway.prompt_tokens", tc.prompt}, {"access", "ai_gateway.completion_tokens", tc.completion},
				{"access", "ai_gateway.total_tokens", tc.total}, {"access", "status", int64(200)},
				{"access", "ai_gateway.model", "openai/gpt-4o-mini"}, {"access", "ai_gateway.provider", "openai"},
				{"access", "ai_gateway.upstream_model", "gpt-4o-mini"}, {"access", "ai_gateway.endpoint", "chat_completions"},
				{"access", "ai_gateway.usage_origin", "reported"}, {"access", "ai_gateway.attempts.0.outcome", "200"},
				{"access", "ai_prompt_tokens", tc.prompt}, {"access", "ai_completion_tokens", tc.completion},
				{"access", "ai_total_tokens", tc.total}, {"access", "ai_status", int64(200)},
				{"access", "ai_model", "openai/gpt-4o-mini"}, {"access", "ai_provider", "openai"},
				{"access", "ai_upstream_model", "gpt-4o-mini"},
			} {
				l := access
				v := l.Get(f.field)
				var got any = v.String()
				if _, isInt := f.want.(int64); isInt {
					got = v.Int()
				}
				if !v.Exists() || got != f.want {
					t.Errorf("%s log %s = %s, want %v\n%s", f.log, f.field, v.Raw, f.want, l.Raw)
				}
			}
		})
	}
	for _, l := range s.gatewayLog(0) {
		if l.Get("level").Str != "error" {
			t.Errorf("at the default level, the handler writes its own line only for failures the operator must see, at error level: %s", l.Raw)
		}
	}
}
