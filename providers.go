package aigateway

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// ProviderConfig configures one upstream provider.
type ProviderConfig struct {
	// Name is the prefix clients put before the model name: "openai" in "openai/gpt-4o-mini".
	Name string `json:"name"`
	// Type selects the API dialect and defaults: openai (any OpenAI-compatible server), azure, anthropic,
	// gemini (alias google), ollama_native (Ollama's /api/chat), or a preset (openai, openrouter, groq,
	// mistral, deepseek, together, xai, fireworks, ollama, vllm). Default: the preset named like the provider,
	// else openai.
	Type string `json:"type,omitempty"`
	// BaseURL is the API's base URL, e.g. https://api.openai.com/v1. Default: the preset's.
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
	// ForwardMetadata sends the request's metadata object upstream (OpenAI-compatible only). Default: false.
	ForwardMetadata bool `json:"forward_metadata,omitempty"`

	// Resource is the Azure OpenAI resource name; the base URL becomes https://<resource>.openai.azure.com.
	Resource string `json:"resource,omitempty"`
	// Deployments maps model names to Azure deployment names. Default: the model name.
	Deployments map[string]string `json:"deployments,omitempty"`
	// APIVersion is Azure's api-version. Default: 2024-10-21.
	APIVersion string `json:"api_version,omitempty"`

	// DefaultMaxTokens is sent to Anthropic when the request sets neither max_tokens nor
	// max_completion_tokens (Anthropic requires one). Default: 4096.
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
	// AnthropicVersion is the anthropic-version header. Default: 2023-06-01.
	AnthropicVersion string `json:"anthropic_version,omitempty"`
	// AnthropicBeta, when set, is sent as the anthropic-beta header.
	AnthropicBeta string `json:"anthropic_beta,omitempty"`

	// IncludeThoughts asks Gemini thinking models for thought summaries, returned as reasoning_content.
	IncludeThoughts bool `json:"include_thoughts,omitempty"`
	// ThoughtSignatureFallback is sent to Gemini in place of a missing thought signature on a tool call from
	// another model's history (e.g. skip_thought_signature_validator). Default: none; Gemini 3 then refuses
	// such histories.
	ThoughtSignatureFallback string `json:"thought_signature_fallback,omitempty"`

	// KeepAlive is how long Ollama keeps the model loaded after a request (ollama_native only): a duration
	// such as 5m or 1h, 0 to unload it at once, or forever. Default: the server's (5m).
	KeepAlive string `json:"keep_alive,omitempty"`
}

type preset struct {
	dialect string
	baseURL string
	keyless bool
}

// presets holds the built-in providers' dialects and public base URLs.
var presets = map[string]preset{
	"openai":     {dialect: "openai", baseURL: "https://api.openai.com/v1"},
	"openrouter": {dialect: "openai", baseURL: "https://openrouter.ai/api/v1"},
	"groq":       {dialect: "openai", baseURL: "https://api.groq.com/openai/v1"},
	"mistral":    {dialect: "openai", baseURL: "https://api.mistral.ai/v1"},
	"deepseek":   {dialect: "openai", baseURL: "https://api.deepseek.com/v1"},
	"together":   {dialect: "openai", baseURL: "https://api.together.xyz/v1"},
	"xai":        {dialect: "openai", baseURL: "https://api.x.ai/v1"},
	"fireworks":  {dialect: "openai", baseURL: "https://api.fireworks.ai/inference/v1"},
	"ollama":     {dialect: "openai", baseURL: "http://127.0.0.1:11434/v1", keyless: true},
	"vllm":       {dialect: "openai", baseURL: "http://127.0.0.1:8000/v1", keyless: true},
	"azure":      {dialect: "azure"},
	"anthropic":  {dialect: "anthropic", baseURL: "https://api.anthropic.com"},
	"gemini":     {dialect: "gemini", baseURL: transform.GeminiBaseURL},
	"google":     {dialect: "gemini", baseURL: transform.GeminiBaseURL},
	// ollama_native speaks Ollama's own /api/chat; the ollama preset (its /v1 layer) stays the default.
	"ollama_native": {dialect: "ollama", baseURL: transform.OllamaBaseURL, keyless: true},
}

func presetNames() string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// build resolves placeholders and defaults and returns the engine's provider. warn receives non-fatal
// configuration problems.
func (pc *ProviderConfig) build(repl *caddy.Replacer, warn func(string)) (gateway.Provider, error) {
	typ := pc.Type
	if typ == "" {
		typ = pc.Name
		if _, ok := presets[typ]; !ok {
			typ = "openai-compatible"
		}
	}
	pre, known := presets[typ]
	if typ == "openai-compatible" {
		pre, known = preset{dialect: "openai"}, true
	}
	if !known {
		return gateway.Provider{}, fmt.Errorf("provider '%s': unknown type '%s' (known: %s)", pc.Name, pc.Type, presetNames())
	}
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
	}
	if pc.KeepAlive != "" && pre.dialect != "ollama" {
		return gateway.Provider{}, fmt.Errorf("provider '%s': keep_alive is only for type ollama_native: remove it", pc.Name)
	}
	for k, vs := range pc.Headers {
		for _, v := range vs {
			p.Header.Add(k, repl.ReplaceAll(v, ""))
		}
	}
	for _, k := range pc.APIKeys {
		for _, key := range splitList(repl.ReplaceAll(k, "")) {
			p.APIKeys = append(p.APIKeys, key)
		}
	}
	if len(p.APIKeys) == 0 && len(pc.APIKeys) > 0 {
		warn(fmt.Sprintf("provider '%s': api_key resolved to an empty value; requests will be sent without credentials", pc.Name))
	} else if len(p.APIKeys) == 0 && !pre.keyless && p.BaseURL == "" {
		warn(fmt.Sprintf("provider '%s' has no api_key; requests will be sent without credentials", pc.Name))
	}
	switch pre.dialect {
	case "openai":
		p.Dialect = transform.NewOpenAI(transform.OpenAIOptions{ForwardMetadata: pc.ForwardMetadata})
	case "azure":
		if p.BaseURL == "" && pc.Resource != "" {
			p.BaseURL = "https://" + repl.ReplaceAll(pc.Resource, "") + ".openai.azure.com"
		}
		if p.BaseURL == "" {
			return gateway.Provider{}, fmt.Errorf("provider '%s': azure needs resource <name> or base_url", pc.Name)
		}
		ver := pc.APIVersion
		if ver == "" {
			ver = "2024-10-21"
		}
		p.Dialect = transform.NewOpenAI(transform.OpenAIOptions{ForwardMetadata: pc.ForwardMetadata,
			Azure: &transform.AzureOptions{APIVersion: ver, Deployments: pc.Deployments}})
	case "anthropic":
		p.Dialect = transform.NewAnthropic(transform.AnthropicOptions{DefaultMaxTokens: pc.DefaultMaxTokens,
			Version: pc.AnthropicVersion, Beta: pc.AnthropicBeta})
	case "gemini":
		p.Dialect = transform.NewGemini(transform.GeminiOptions{IncludeThoughts: pc.IncludeThoughts,
			SignatureFallback: pc.ThoughtSignatureFallback})
	case "ollama":
		keep, err := keepAlive(pc.KeepAlive)
		if err != nil {
			return gateway.Provider{}, fmt.Errorf("provider '%s': %v", pc.Name, err)
		}
		p.Dialect = transform.NewOllama(transform.OllamaOptions{KeepAlive: keep})
	}
	if p.BaseURL == "" {
		p.BaseURL = pre.baseURL
	}
	if p.BaseURL == "" {
		return gateway.Provider{}, fmt.Errorf("provider '%s' has no base URL: set base_url, or use a type with a built-in one (%s)", pc.Name, presetNames())
	}
	return p, nil
}

// keepAlive checks a keep_alive setting and returns what is sent to Ollama: a Go duration (Ollama parses
// it with time.ParseDuration, so Caddy's 1d form is converted), or -1m, which Ollama reads as for ever.
func keepAlive(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if s == "forever" {
		return "-1m", nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return "", fmt.Errorf("invalid keep_alive '%s': use a duration such as 5m, 0 to unload the model at once, or forever", s)
	}
	if d < 0 {
		return "", fmt.Errorf("keep_alive '%s': must not be negative: use forever to keep the model loaded", s)
	}
	return d.String(), nil
}

// splitList splits a resolved placeholder holding several values separated by commas or white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}
