package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/openapi"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// TestEveryEndpointIsInTheDocument keeps the OpenAPI document from drifting behind the engine: an endpoint
// added to the table without a description in package openapi fails here.
func TestEveryEndpointIsInTheDocument(t *testing.T) {
	for e := Endpoint(1); e < endpointCount; e++ {
		if e == OpenAPIDocument || e == DocsPage {
			continue
		}
		if !openapi.Described(e.String()) {
			t.Errorf("endpoint %q is served but package openapi does not describe it", e)
		}
	}
}

func get(h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestOpenAPIDocumentFollowsTheConfiguration(t *testing.T) {
	g := newGateway(t, "http://10.1.2.3:9/private-base", func(c *Config) {
		c.ClientKeys = []string{"client-key-1"}
		c.Providers[0].Models = []string{"gpt-4o-mini"}
		c.Providers = append(c.Providers, Provider{Name: "claude", BaseURL: "http://10.9.9.9/anthropic",
			APIKeys: []string{"sk-ant-secret"}, Dialect: transform.NewAnthropic(transform.AnthropicOptions{})})
		c.Aliases = map[string]string{"fast": "openai/gpt-4o-mini"}
	})
	if rec := get(g, "/v1/openapi.json"); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a key: %d, want 401", rec.Code)
	}
	rec := get(g, "/api/v1/openapi.json", "Authorization", "Bearer client-key-1")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET openapi.json = %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, secret := range []string{"sk-upstream-secret", "sk-ant-secret", "client-key-1", "10.1.2.3", "10.9.9.9", "private-base"} {
		if strings.Contains(body, secret) {
			t.Errorf("the document contains %q", secret)
		}
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if doc.Servers[0].URL != "/api/v1" {
		t.Errorf("server = %q, want the path the document was asked under", doc.Servers[0].URL)
	}
	// The OpenAI dialect serves embeddings; Anthropic does not, but one provider is enough.
	for _, p := range []string{"/chat/completions", "/embeddings", "/models", "/models/{model}"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("%s is served but not in the document", p)
		}
	}
	enum := gjson.Get(body, "components.schemas.Model.anyOf.0.enum").Array()
	var names []string
	for _, e := range enum {
		names = append(names, e.String())
	}
	if got := strings.Join(names, ","); got != "fast,openai/gpt-4o-mini" {
		t.Errorf("model enum = %s, want the alias and the allow-listed model", got)
	}
	if p := gjson.Get(body, "components.schemas.Model.anyOf.1.pattern").String(); p != "^(claude)/.+$" {
		t.Errorf("open providers' pattern = %q, want claude's (it has no models list)", p)
	}

	y := get(g, "/v1/openapi.yaml", "Authorization", "Bearer client-key-1")
	if y.Code != http.StatusOK || y.Header().Get("Content-Type") != "application/yaml" || !strings.HasPrefix(y.Body.String(), `"`) {
		t.Errorf("GET openapi.yaml = %d %q %.40s", y.Code, y.Header().Get("Content-Type"), y.Body)
	}
}

func TestOpenAPIPublicAndTheDocsPage(t *testing.T) {
	g := newGateway(t, "http://127.0.0.1:9", func(c *Config) {
		c.ClientKeys = []string{"k"}
		c.OpenAPIPublic = true
	})
	if rec := get(g, "/v1/openapi.json"); rec.Code != http.StatusOK {
		t.Errorf("openapi public: %d without a key, want 200", rec.Code)
	}
	if rec := get(g, "/v1/chat/completions"); rec.Code != http.StatusUnauthorized {
		t.Errorf("openapi public must not open other endpoints: %d", rec.Code)
	}
	if rec := get(g, "/v1/docs/"); rec.Code != http.StatusNotFound {
		t.Errorf("docs off: GET /v1/docs/ = %d, want 404", rec.Code)
	}

	g = newGateway(t, "http://127.0.0.1:9", func(c *Config) { c.ClientKeys = []string{"k"}; c.DocsPage = true })
	rec := get(g, "/v1/docs/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<script src="app.js"`) {
		t.Fatalf("GET /v1/docs/ = %d %.200s", rec.Code, rec.Body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q, want scripts and connections limited to the gateway", csp)
	}
	for path, ct := range map[string]string{"/v1/docs/app.js": "text/javascript", "/v1/docs/app.css": "text/css"} {
		if rec := get(g, path); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) {
			t.Errorf("GET %s = %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if rec := get(g, "/v1/docs"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "docs/" {
		t.Errorf("GET /v1/docs = %d Location %q, want a redirect to docs/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(g, "/v1/docs/../../etc/passwd"); rec.Code == http.StatusOK {
		t.Error("the page served a path outside its files")
	}
	if rec := get(g, "/v1/openapi.json"); rec.Code != http.StatusUnauthorized {
		t.Errorf("the page being on must not make the document public: %d", rec.Code)
	}
}
