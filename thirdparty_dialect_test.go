package aigateway_test

// This file is what a third party writes to add a provider: a module of the
// http.handlers.ai_gateway.dialects namespace, in its own package, built in with
// `xcaddy build --with <its module>` and chosen with `type echo` in a provider block. It uses only the
// exported API (packages dialects, transform and usage, and Caddy's).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"

	aigateway "github.com/aibackend/caddy-ai-gateway"
	"github.com/aibackend/caddy-ai-gateway/dialects"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

func init() {
	caddy.RegisterModule(Echo{})
}

// Echo is a provider whose API answers {"text": …} to {"say": …}, and which authenticates each request by
// signing its body with the credential.
type Echo struct {
	// Prefix is put before every answer.
	Prefix string `json:"prefix,omitempty"`
}

func (Echo) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: dialects.Namespace + ".echo", New: func() caddy.Module { return new(Echo) }}
}

func (e *Echo) Translator() transform.Dialect { return echoDialect{prefix: e.Prefix} }
func (e *Echo) BaseURL() string               { return "" }
func (e *Echo) Keyless() bool                 { return false }

// UnmarshalCaddyfile reads the echo options of a provider block: prefix <text>.
func (e *Echo) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "prefix":
			if !d.AllArgs(&e.Prefix) {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized provider subdirective '%s' (type echo's own option is prefix)", d.Val())
		}
	}
	return nil
}

var (
	_ dialects.Dialect      = (*Echo)(nil)
	_ caddyfile.Unmarshaler = (*Echo)(nil)
)

type echoDialect struct{ prefix string }

func (echoDialect) BuildRequest(req *transform.Request) (*transform.Outgoing, error) {
	say := gjson.GetBytes(req.Body, "messages.@reverse.0.content").String()
	body, _ := json.Marshal(map[string]string{"say": say, "model": req.Model})
	return &transform.Outgoing{Path: "/echo", Body: body}, nil
}

// Authorize signs the final body: the credential never travels.
func (echoDialect) Authorize(req *http.Request, credential string) error {
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(body)
	req.Header.Set("X-Echo-Signature", echoSignature(credential, b))
	return nil
}

func echoSignature(credential string, body []byte) string {
	sum := sha256.Sum256(append([]byte(credential+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

func (d echoDialect) TranslateResponse(req *transform.Request, body []byte) ([]byte, usage.Usage, error) {
	text := d.prefix + gjson.GetBytes(body, "text").String()
	out, _ := json.Marshal(map[string]any{
		"id": "echo-1", "object": "chat.completion", "created": 1, "model": req.ClientModel,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text}}},
		"usage": map[string]int{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
	})
	return out, usage.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2, Origin: usage.Reported}, nil
}

func (echoDialect) NewStream(*transform.Request) transform.StreamTranslator { return nil }

func (echoDialect) TranslateError(status int, _ http.Header, body []byte) *transform.Error {
	return transform.NewError(status, transform.TypeForStatus(status), "echo_error", "echo: "+string(body))
}

// echoServer is the provider's API: it answers only correctly signed requests.
func echoServer(t *testing.T, credential string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/echo" || r.Header.Get("X-Echo-Signature") != echoSignature(credential, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"text": gjson.GetBytes(body, "say").String() + " (" + gjson.GetBytes(body, "model").String() + ")"})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// chatThrough provisions the ai_gateway handler of an adapted or JSON config and sends it one chat request.
func chatThrough(t *testing.T, handlerJSON []byte) *httptest.ResponseRecorder {
	t.Helper()
	h := new(aigateway.Handler)
	if err := json.Unmarshal(handlerJSON, h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"mine/parrot","messages":[{"role":"user","content":"hello"}]}`))
	req = caddyhttp.PrepareRequest(req, caddy.NewReplacer(), nil, &caddyhttp.Server{})
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestThirdPartyDialect: a dialect module registered from outside the gateway's packages is listed with the
// built-in ones, configured from a Caddyfile (type echo, its own option parsed by its module) or from JSON,
// and answers a chat completion end to end, its auth hook signing each request.
func TestThirdPartyDialect(t *testing.T) {
	var ids []string
	for _, m := range caddy.GetModules(dialects.Namespace) {
		ids = append(ids, string(m.ID))
	}
	for _, want := range []string{"anthropic", "azure", "echo", "gemini", "ollama_native", "openai"} {
		if !slices.Contains(ids, dialects.Namespace+"."+want) {
			t.Errorf("module %s.%s is not registered: %v", dialects.Namespace, want, ids)
		}
	}

	base := echoServer(t, "s3cret")
	caddyfileSrc := `:8080 {
	ai_gateway {
		provider mine {
			type echo
			base_url ` + base + `
			api_key s3cret
			prefix "echo: "
		}
	}
}`
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileSrc), nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := gjson.GetBytes(out, "apps.http.servers.srv0.routes.0.handle.0")
	if got := handler.Get("providers.0.dialect").Raw; got != `{"prefix":"echo: ","type":"echo"}` {
		t.Fatalf("the provider's dialect adapted to %s", got)
	}
	rec := chatThrough(t, []byte(handler.Raw))
	if got := gjson.Get(rec.Body.String(), "choices.0.message.content").String(); rec.Code != http.StatusOK || got != "echo: hello (parrot)" {
		t.Fatalf("through the Caddyfile config: %d %s", rec.Code, rec.Body)
	}

	rec = chatThrough(t, []byte(`{"providers":[{"name":"mine","base_url":"`+base+`","api_keys":["s3cret"],"dialect":{"type":"echo","prefix":"json: "}}]}`))
	if got := gjson.Get(rec.Body.String(), "choices.0.message.content").String(); rec.Code != http.StatusOK || got != "json: hello (parrot)" {
		t.Fatalf("through the JSON config: %d %s", rec.Code, rec.Body)
	}

	rec = chatThrough(t, []byte(`{"providers":[{"name":"mine","base_url":"`+base+`","api_keys":["wrong"],"dialect":{"type":"echo"}}]}`))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("a request signed with the wrong credential answered %d %s", rec.Code, rec.Body)
	}

	_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte(strings.Replace(caddyfileSrc, `prefix "echo: "`, "resource x", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "unrecognized provider subdirective 'resource' (type echo's own option is prefix)") {
		t.Fatalf("an option echo does not take: %v", err)
	}
}
