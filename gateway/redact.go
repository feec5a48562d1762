package gateway

import (
	"bytes"
	"slices"
	"strings"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// minRedactedSecret is the shortest credential the redactor looks for. A shorter value would also match
// ordinary words of the messages it protects, and no provider issues keys that short; a local server
// configured with such a key gets no redaction.
const minRedactedSecret = 8

// redacted replaces a credential in upstream text.
const redacted = "[redacted]"

// redactor removes every configured provider credential from what upstreams send back before any of it is
// relayed to a client or stored in a Result (and so logged): the provider's API keys, and the values of its
// extra headers that carry credentials. Upstreams echo keys in their error messages ("Invalid API key
// provided: Bearer ..."), whatever the dialect.
type redactor struct {
	// secrets are the byte sequences to replace, longest first so that a key containing another goes whole.
	secrets [][]byte
}

func newRedactor(providers []Provider) *redactor {
	r := &redactor{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) < minRedactedSecret {
			return
		}
		// As written, and as JSON encoders may escape it inside an error body.
		lit := transform.AppendJSONString(nil, s)
		escaped := string(lit[1 : len(lit)-1])
		for _, f := range []string{s, escaped, strings.ReplaceAll(escaped, "/", `\/`)} {
			if !slices.ContainsFunc(r.secrets, func(b []byte) bool { return string(b) == f }) {
				r.secrets = append(r.secrets, []byte(f))
			}
		}
	}
	for _, p := range providers {
		for _, k := range p.APIKeys {
			add(k)
		}
		for name, vs := range p.Header {
			if !credentialHeader(name) {
				continue
			}
			for _, v := range vs {
				add(v)
				if _, token, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
					add(token) // "Bearer <token>"
				}
			}
		}
	}
	slices.SortFunc(r.secrets, func(a, b []byte) int { return len(b) - len(a) })
	return r
}

// credentialHeader reports whether a header's name says it carries a credential.
func credentialHeader(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "password", "cookie", "signature"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// error returns e with every credential replaced in its message and raw body; e itself when it holds none.
func (r *redactor) error(e *transform.Error) *transform.Error {
	if e == nil || len(r.secrets) == 0 {
		return e
	}
	msg, raw := []byte(e.Message), e.Raw
	found := false
	for _, s := range r.secrets {
		if bytes.Contains(msg, s) {
			msg, found = bytes.ReplaceAll(msg, s, []byte(redacted)), true
		}
		if bytes.Contains(raw, s) {
			raw, found = bytes.ReplaceAll(raw, s, []byte(redacted)), true
		}
	}
	if !found {
		return e
	}
	c := *e
	c.Message, c.Raw = string(msg), raw
	if c.Raw != nil && transform.CheckJSON(c.Raw) != nil {
		// A credential spanning the body's structure: send the gateway's own error rather than a broken body.
		c.Raw, c.Message = nil, r.text(e.Error())
	}
	return &c
}

// text returns s with every credential replaced.
func (r *redactor) text(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, string(sec), redacted)
	}
	return s
}
