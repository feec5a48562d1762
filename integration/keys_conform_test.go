package integration

import (
	"net/http"
	"testing"

	"github.com/tidwall/gjson"
)

// TestKeyManagementConforms runs a virtual key's whole life through the management API, every exchange
// checked against the OpenAPI document (the site's conformance transport): create, list, read, change,
// rotate, self-service, revoke.
func TestKeyManagementConforms(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	})
	const admin = "admin-key-0123456789abcdef"
	s := startGateway(t, providerBlock("openai", "openai", up.URL)+"\t\tvirtual_keys {\n\t\t\tadmin_keys "+admin+"\n\t\t}\n")
	auth := []string{"Authorization", "Bearer " + admin}
	st, _, b := s.post("/v1/keys", `{"name":"team-a","models":["openai/*"],"limit":5,"limit_reset":"daily"}`, auth...)
	id, secret := gjson.GetBytes(b, "data.hash").Str, gjson.GetBytes(b, "key").Str
	if st != http.StatusCreated || id == "" || secret == "" {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, _, b := s.post("/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+secret); st != http.StatusOK {
		t.Fatalf("the new key's chat: %d %s", st, b)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/keys", ""},
		{"GET", "/v1/keys/" + id, ""},
		{"PATCH", "/v1/keys/" + id, `{"requests":"60/1m"}`},
		{"POST", "/v1/keys/" + id + "/rotate", ""},
		{"DELETE", "/v1/keys/" + id, ""},
	} {
		resp := s.request(t.Context(), c.method, c.path, c.body, auth...)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
}
