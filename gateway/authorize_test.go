package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// signingDialect is an OpenAI dialect whose credential is a signature over the whole request, the way SigV4
// providers authenticate: it needs the final body, URL and headers.
type signingDialect struct {
	transform.Dialect
	fail bool
}

func (s signingDialect) Authorize(req *http.Request, secret string) error {
	if s.fail {
		return errors.New("no signing key for " + secret)
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(body)
	sum := sha256.Sum256([]byte(secret + "\n" + req.Method + " " + req.URL.Path + "\n" + req.Header.Get("X-Request-Id") + "\n" + string(b)))
	req.Header.Set("X-Signature", hex.EncodeToString(sum[:]))
	return nil
}

// TestAuthorizeSignsTheFinalRequest: the dialect's auth hook sees the request as it is sent (body, path and the
// forwarded headers) and can sign all of it; a failure to sign is a 502 and nothing is sent.
func TestAuthorizeSignsTheFinalRequest(t *testing.T) {
	base, seen := fakeUpstream(t, replay(t, "openai/chat_tool_call.json", "application/json"))
	g := newGateway(t, base, func(c *Config) { c.Providers[0].Dialect = signingDialect{Dialect: c.Providers[0].Dialect} })
	rec := post(t, g, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "req-7")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	c := <-seen
	sum := sha256.Sum256([]byte("sk-upstream-secret\nPOST " + c.path + "\nreq-7\n" + string(c.body)))
	if got := c.header.Get("X-Signature"); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("the upstream got signature %q, not one over the request it received", got)
	}

	g = newGateway(t, base, func(c *Config) { c.Providers[0].Dialect = signingDialect{Dialect: c.Providers[0].Dialect, fail: true} })
	rec = post(t, g, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "upstream_auth_failed") || strings.Contains(rec.Body.String(), "sk-upstream-secret") {
		t.Fatalf("a signing failure answered %d %s; want 502 upstream_auth_failed without the credential", rec.Code, rec.Body)
	}
	select {
	case c := <-seen:
		t.Fatalf("an unsigned request reached the upstream: %s", c.path)
	default:
	}
}
