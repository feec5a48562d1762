package aigateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/aibackend/caddy-ai-gateway/dialects"
	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/router"
)

// ProviderConfig configures one upstream provider: the options every provider has, and its dialect, a
// module of the http.handlers.ai_gateway.dialects namespace that owns the API's own options.
type ProviderConfig struct {
	// Name is the prefix clients put before the model name: "openai" in "openai/gpt-4o-mini".
	Name string `json:"name"`
	// DialectRaw is the provider's API dialect, a module of the http.handlers.ai_gateway.dialects
	// namespace selected by "type": openai (any OpenAI-compatible server; "preset" picks a known service's
	// base URL), azure, anthropic, gemini, ollama_native, bedrock, vertex, or a third-party module. Its other fields are the
	// dialect's own options. Default: the preset or dialect named like the provider, else openai with no
	// preset (base_url is then needed).
	DialectRaw json.RawMessage `json:"dialect,omitempty" caddy:"namespace=http.handlers.ai_gateway.dialects inline_key=type"`
	// BaseURL is the API's base URL, e.g. https://api.openai.com/v1. Default: the dialect's (its preset's,
	// or the one its options give, like azure's resource).
	BaseURL string `json:"base_url,omitempty"`
	// APIKeys are the provider's credentials. Use placeholders such as {env.OPENAI_API_KEY}: they are resolved
	// when the config is loaded and never appear in the adapted config. Several keys are balanced as separate
	// targets.
	APIKeys []string `json:"api_keys,omitempty"`
	// Headers are extra headers sent with every upstream request.
	Headers http.Header `json:"headers,omitempty"`
	// ForwardHeaders names client request headers sent upstream on top of the default allow-list
	// (Accept-Language, User-Agent, X-Request-Id, X-Client-Request-Id, Traceparent, Tracestate), e.g.
	// OpenAI-Beta. Every other client header is dropped. Credentials (Authorization, Cookie, API-key
	// headers), headers the gateway sets (Host, Content-Type, Content-Length, Content-Encoding, Accept,
	// Accept-Encoding) and hop-by-hop headers are refused.
	ForwardHeaders []string `json:"forward_headers,omitempty"`
	// Models, when set, is the list of models clients may ask this provider for. Default: any.
	Models []string `json:"models,omitempty"`
	// Policy chooses among the provider's API keys for a "provider/model" request: weighted (random, the
	// default), round_robin, least_busy or lowest_latency. Routes have their own policy.
	Policy string `json:"policy,omitempty"`
	// Timeout bounds a whole exchange, streaming included. Default: 10m.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// DialTimeout bounds connecting to the provider. Default: 10s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// ResponseHeaderTimeout bounds the wait for the provider's response headers. Default: none.
	ResponseHeaderTimeout caddy.Duration `json:"response_header_timeout,omitempty"`
	// FirstTokenTimeout bounds the wait for a stream's first event; past it the next target is tried.
	// Default: none.
	FirstTokenTimeout caddy.Duration `json:"first_token_timeout,omitempty"`

	dialect dialects.Dialect
}

// build loads the dialect, resolves placeholders and defaults and returns the engine's provider. warn
// receives non-fatal configuration problems.
func (pc *ProviderConfig) build(ctx caddy.Context, repl *caddy.Replacer, warn func(string)) (gateway.Provider, error) {
	if len(pc.DialectRaw) == 0 {
		d, typ, err := dialects.Resolve("", pc.Name)
		if err != nil {
			return gateway.Provider{}, fmt.Errorf("provider '%s': %v", pc.Name, err)
		}
		pc.DialectRaw = dialects.JSON(d, typ, nil)
	}
	mod, err := ctx.LoadModule(pc, "DialectRaw")
	if err != nil {
		return gateway.Provider{}, fmt.Errorf("provider '%s': loading its dialect: %v", pc.Name, err)
	}
	dia, ok := mod.(dialects.Dialect)
	if !ok {
		return gateway.Provider{}, fmt.Errorf("provider '%s': module %T is not a dialect", pc.Name, mod)
	}
	pc.dialect = dia
	p := gateway.Provider{
		Name:                  pc.Name,
		BaseURL:               repl.ReplaceAll(pc.BaseURL, ""),
		Header:                http.Header{},
		Models:                pc.Models,
		Timeout:               time.Duration(pc.Timeout),
		DialTimeout:           time.Duration(pc.DialTimeout),
		ResponseHeaderTimeout: time.Duration(pc.ResponseHeaderTimeout),
		FirstTokenTimeout:     time.Duration(pc.FirstTokenTimeout),
		ForwardHeaders:        pc.ForwardHeaders,
		Policy:                router.Policy(pc.Policy),
		Dialect:               dia.Translator(),
	}
	for k, vs := range pc.Headers {
		for _, v := range vs {
			p.Header.Add(k, repl.ReplaceAll(v, ""))
		}
	}
	for _, k := range pc.APIKeys {
		p.APIKeys = append(p.APIKeys, splitList(repl.ReplaceAll(k, ""))...)
	}
	if tc, ok := dia.(dialects.TargetCredentials); ok {
		p.APIKeys = append(p.APIKeys, tc.TargetCredentials()...)
	}
	if len(p.APIKeys) == 0 && len(pc.APIKeys) > 0 {
		warn(fmt.Sprintf("provider '%s': api_key resolved to an empty value; requests will be sent without credentials", pc.Name))
	} else if len(p.APIKeys) == 0 && !dia.Keyless() && p.BaseURL == "" {
		warn(fmt.Sprintf("provider '%s' has no api_key; requests will be sent without credentials", pc.Name))
	}
	if p.BaseURL == "" {
		p.BaseURL = dia.BaseURL()
	}
	if p.BaseURL == "" {
		return gateway.Provider{}, fmt.Errorf("provider '%s' has no base URL: set base_url, use a type with a built-in one (%s), or give the dialect's own (azure: resource)",
			pc.Name, strings.Join(presetNames(), ", "))
	}
	return p, nil
}

// presetNames are the types that come with a base URL.
func presetNames() []string {
	var names []string
	for _, t := range dialects.Types() {
		if d, _, err := dialects.Resolve(t, ""); err == nil && d.BaseURL() != "" {
			names = append(names, t)
		} else if _, ok := dialects.Presets[t]; ok {
			names = append(names, t)
		}
	}
	return names
}

// splitList splits a resolved placeholder holding several values separated by commas or white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}
