package simulator

import (
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
)

// A deeply nested request body gets the dialect's 400; no parser recurses into it.
func TestDeepRequestBodyIsRefused(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20)) // a recursion over the body would overflow at once
	srv := startServer(t, Config{})
	deep := strings.Repeat("[", 1<<20)
	for _, path := range []string{"/v1/chat/completions", "/v1/messages", "/v1beta/models/gemini-2.5-flash:generateContent"} {
		resp := post(t, srv, path, deep)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", path, resp.StatusCode)
		}
	}
}
