// Package aigateway is the Caddy module http.handlers.ai_gateway: an OpenAI-compatible AI gateway in front of
// OpenAI, Anthropic, Gemini and any OpenAI-compatible server. The work is done by the gateway package; this
// package is the Caddy glue: configuration, the Caddyfile directive, placeholders and logging.
package aigateway

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is an OpenAI-compatible AI gateway. It answers POST …/chat/completions, …/completions,
// …/embeddings, …/moderations, …/rerank, …/responses (OpenAI's Responses API, with the stored responses
// under …/responses/{id}) and GET …/models (and …/models/{id}) under whatever path its route
// gives it, and answers any other path with an OpenAI-shaped 404 unknown_url (or, with fallthrough, passes it
// to the next handler). With virtual_keys it also serves the key management API (…/keys, …/keys/{id},
// …/keys/{id}/rotate, …/key) and, with console, the management page (…/console/).
// Clients name models "provider/model" (or an alias); the gateway picks the provider, injects its credential,
// translates to its API and streams the answer back in OpenAI's format with usage.
//
// Errors are answered with OpenAI-shaped JSON bodies ({"error":{"message","type","param","code"}}) written by
// the handler itself, so OpenAI SDKs can read them; they do not go through handle_errors.
//
// Placeholders set after each gateway request:
//
// Placeholder | Description
// ------------|-------------
// `{http.ai_gateway.endpoint}` | The endpoint asked for: chat_completions, completions, embeddings, moderations, rerank, responses, response, messages, messages_count_tokens, models, model
// `{http.ai_gateway.provider}` | The provider that answered (or was last tried)
// `{http.ai_gateway.model}` | The model as the client named it
// `{http.ai_gateway.upstream_model}` | The model name sent upstream
// `{http.ai_gateway.prompt_tokens}` | Prompt tokens
// `{http.ai_gateway.completion_tokens}` | Completion tokens
// `{http.ai_gateway.total_tokens}` | Total tokens
// `{http.ai_gateway.usage_origin}` | reported, counted, estimated or unknown
// `{http.ai_gateway.status}` | The HTTP status sent to the client
// `{http.ai_gateway.attempts}` | How many upstream attempts were made
// `{http.ai_gateway.cost}` | What the request cost in USD (empty when the model has no price)
// `{http.ai_gateway.client_key}` | The client key's identity, "key-" and 16 hex digits of a SHA-256 with a fixed salt (never the key), or "vk-" and a virtual key's id; empty without client_keys and virtual_keys. Set before rate-limit keys are expanded
type Handler struct {
	// Providers are the upstream APIs the gateway can use.
	Providers []*ProviderConfig `json:"providers,omitempty"`
	// Aliases maps client-visible model names to "provider/model" (or a route). A name with a '*' is a
	// glob ("claude-*") serving names nothing else serves: exact names always win, then the longest
	// pattern, then the first in lexical order.
	Aliases map[string]string `json:"aliases,omitempty"`
	// DefaultModel is used when a request names no model. Default: none (the request is refused).
	DefaultModel string `json:"default_model,omitempty"`
	// MaxRequestBody bounds request bodies, in bytes. Default: 4 MiB.
	MaxRequestBody int64 `json:"max_request_body,omitempty"`
	// MaxUploadBody bounds the multipart bodies of image edits and audio transcriptions and translations, in
	// bytes; their files are streamed upstream, not held in memory. Default: 26 MiB.
	MaxUploadBody int64 `json:"max_upload_body,omitempty"`
	// MaxResponseBody bounds a non-streamed upstream answer, in bytes; a larger one fails the attempt with a
	// 502 upstream_response_too_large and the next target is tried. Default: 16 MiB.
	MaxResponseBody int64 `json:"max_response_body,omitempty"`
	// MaxEventSize bounds one line of an upstream stream, in bytes, with the same error. Default: 1 MiB.
	MaxEventSize int64 `json:"max_event_size,omitempty"`
	// MaxOutputTokens is the largest max_tokens / max_completion_tokens a client may ask for. Default: 8192.
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// MaxN is the largest n (choices per request) a client may ask for; each choice counts in token limits
	// and budgets. Default: 8.
	MaxN int `json:"max_n,omitempty"`
	// ClientKeys, when set, are the Bearer keys clients must present. Placeholders such as {env.GATEWAY_KEYS}
	// are resolved at load time; one value may hold several keys separated by commas or spaces. Each request's
	// key is published as {http.ai_gateway.client_key}, the key to give rate limits. Without client keys
	// every client is anonymous and that placeholder is empty.
	ClientKeys []string `json:"client_keys,omitempty"`

	// Routes serve client-facing model names from tiers of targets, with load balancing and fallbacks.
	Routes []*Route `json:"routes,omitempty"`
	// Retry says which failed attempts are retried and how.
	Retry *RetryConfig `json:"retry,omitempty"`
	// Cooldown configures the circuit breaker that rests failing targets.
	Cooldown *CooldownConfig `json:"cooldown,omitempty"`

	// Prices price models, in USD per million tokens, ahead of the embedded table of OpenAI, Anthropic
	// and Gemini prices. Models with no price (self-hosted ones) cost 0 and report no cost.
	Prices []*PriceConfig `json:"prices,omitempty"`
	// ReportCost adds usage.cost (USD) to responses and final usage chunks. Default: true.
	ReportCost *bool `json:"report_cost,omitempty"`

	// RateLimits cap requests, tokens and spend per key. Every matching rule applies; the first that would be
	// exceeded refuses the request with 429 before any upstream is contacted.
	RateLimits []*RateLimit `json:"rate_limits,omitempty"`
	// RateLimitStore says where limit counters live. Default: memory.
	RateLimitStore *RateLimitStore `json:"rate_limit_store,omitempty"`
	// VirtualKeys, when set, accepts client keys issued and managed at run time (…/keys, …/console/) beside
	// ClientKeys.
	VirtualKeys *VirtualKeys `json:"virtual_keys,omitempty"`

	// Fallthrough passes requests for paths the gateway does not serve to the next handler, instead of
	// answering them with a 404 unknown_url.
	Fallthrough bool `json:"fallthrough,omitempty"`
	// OpenAPI says who may read the OpenAPI document (…/openapi.json, …/openapi.yaml): "public" serves it
	// without a client key; by default ("private") it needs one like every other endpoint.
	OpenAPI string `json:"openapi,omitempty"`
	// Docs serves the "Try it" page at …/docs/, which renders the OpenAPI document with a request panel per
	// endpoint and sends requests with the key its user types in. Default: off.
	Docs bool `json:"docs,omitempty"`

	gw            *gateway.Gateway
	logger        *zap.Logger
	metrics       *metrics
	storeKey      string
	keyPoolKey    string
	keys          *keys.Manager
	tokenizerHeld bool
	// responseStoreKey is the pool key of the store of responses made through chat completions.
	responseStoreKey string
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ai_gateway",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks the configured values, resolves placeholders in credentials and builds the gateway.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.checkValues(); err != nil {
		return err
	}
	var err error
	if h.metrics, err = newMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	repl := caddy.NewReplacer()
	prices, err := h.priceTable()
	if err != nil {
		return err
	}
	tok, err := sharedTokenizer()
	if err != nil {
		return err
	}
	h.tokenizerHeld = true
	cfg := gateway.Config{
		Aliases:         h.Aliases,
		DefaultModel:    h.DefaultModel,
		MaxRequestBody:  h.MaxRequestBody,
		MaxUploadBody:   h.MaxUploadBody,
		MaxResponseBody: h.MaxResponseBody,
		MaxEventSize:    h.MaxEventSize,
		MaxOutputTokens: h.MaxOutputTokens,
		MaxN:            h.MaxN,
		Routes:          h.routerRoutes(),
		Retry:           h.retryPolicy(),
		Breaker:         h.breaker(),
		Tokenizer:       tok,
		Prices:          prices,
		ReportCost:      h.ReportCost == nil || *h.ReportCost,
		Claims:          h.claims,
		OnStoreError:    h.storeFailed,
		OpenAPIPublic:   h.OpenAPI == "public",
		DocsPage:        h.Docs,
		Version:         moduleVersion(),
	}
	if cfg.Limiter, err = h.provisionLimits(repl); err != nil {
		return err
	}
	if cfg.ResponseStore, err = h.provisionResponseStore(repl); err != nil {
		return err
	}
	for _, k := range h.ClientKeys {
		cfg.ClientKeys = append(cfg.ClientKeys, splitList(repl.ReplaceAll(k, ""))...)
	}
	if len(h.ClientKeys) > 0 && len(cfg.ClientKeys) == 0 {
		return fmt.Errorf("client_keys resolved to no key: check that the environment variable is set, or remove client_keys to allow every client")
	}
	if h.keys, err = h.provisionKeys(repl, cfg.ClientKeys); err != nil {
		return err
	}
	cfg.Keys = h.keys
	cfg.OnKeyUsage = h.metrics.observeKey
	warn := func(msg string) { h.logger.Warn(msg) }
	for _, pc := range h.Providers {
		p, err := pc.build(ctx, repl, warn)
		if err != nil {
			return err
		}
		cfg.Providers = append(cfg.Providers, p)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	h.gw = gw
	return nil
}

// Validate checks what Provision could not.
func (h *Handler) Validate() error {
	if len(h.Providers) == 0 {
		return fmt.Errorf("no provider configured: add at least one 'provider <name> { ... }'")
	}
	if h.MaxN < 0 {
		return fmt.Errorf("max_n %d: must be a positive number of choices, or 0 for the default of %d", h.MaxN, gateway.DefaultMaxN)
	}
	return nil
}

// Cleanup closes idle upstream connections and releases the rate-limit store (kept while another config
// uses it).
func (h *Handler) Cleanup() error {
	if h.gw != nil {
		h.gw.Close()
	}
	if h.tokenizerHeld {
		_, _ = tokenizers.Delete(tokenizerKey)
	}
	if h.responseStoreKey != "" {
		_, _ = stores.Delete(h.responseStoreKey)
	}
	var err error
	if h.keyPoolKey != "" {
		_, err = keyPools.Delete(h.keyPoolKey)
	}
	if h.storeKey != "" {
		if _, e := stores.Delete(h.storeKey); err == nil {
			err = e
		}
	}
	return err
}

// tokenizers keeps one tokenizer across config reloads: its encoders take ~50 MB and ~50 ms to build, and
// are safe to share.
var tokenizers = caddy.NewUsagePool()

const tokenizerKey = "tokenizer"

type pooledTokenizer struct{ *usage.Tokenizer }

func (pooledTokenizer) Destruct() error { return nil }

// sharedTokenizer returns the tokenizer every gateway of this process uses, building and warming it (in the
// background, out of Provision and of the first request) the first time.
func sharedTokenizer() (*usage.Tokenizer, error) {
	v, _, err := tokenizers.LoadOrNew(tokenizerKey, func() (caddy.Destructor, error) {
		t := usage.NewTokenizer()
		go t.Warm()
		return pooledTokenizer{t}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(pooledTokenizer).Tokenizer, nil
}

// ServeHTTP serves gateway endpoints; other paths get a 404 unknown_url, or go to next with fallthrough.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.keys != nil && h.keys.Serves(r.URL.Path) {
		h.keys.ServeHTTP(w, r)
		return nil
	}
	if h.Fallthrough && h.gw.Route(r) == gateway.NotOurs {
		return next.ServeHTTP(w, r)
	}
	start := time.Now()
	res := h.gw.Serve(w, r)
	took := time.Since(start)
	h.metrics.observe(res, took)
	h.publish(r, res, took)
	return nil
}

// publish sets the placeholders, hands the gateway's fields to the access log and writes the handler's own
// line when its level is on.
//
// The per-request record is the access log's: operators turn it on with the `log` directive, and the
// gateway's fields go into its entry as one object, "ai_gateway". Nothing is built for it beyond one
// ExtraLogFields entry, and not even that when the server has no access log: the object reads res when the
// entry is written, after ServeHTTP returns (res is this request's own, never reused).
//
// The handler's own "ai gateway request" line is at debug level, and at error level for a failure the
// operator must see: a 5xx sent to the client, or a stream the upstream cut after its 200 (res.Err with a 5xx).
// A client that hangs up (499) is the client's doing, not a failure of the gateway or an upstream: debug.
func (h *Handler) publish(r *http.Request, res *gateway.Result, took time.Duration) {
	ctx := r.Context()
	if repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		// One provider answers the placeholders when they are read (by the access log, a header, a later
		// handler), instead of a dozen values set on every request. It reads the latest result: a request
		// handled twice (an error route, a rehandle) answers with its last.
		if _, mapped := repl.Get(resultPlaceholder); !mapped {
			repl.Map(func(key string) (any, bool) {
				name, ok := strings.CutPrefix(key, "http.ai_gateway.")
				if !ok {
					return nil, false
				}
				latest, _ := repl.Get(resultPlaceholder)
				return placeholder(latest.(*gateway.Result), name)
			})
		}
		repl.Set(resultPlaceholder, res)
	}
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); !ok || srv == nil || srv.Logs != nil {
		if extra, ok := ctx.Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
			// Set, not Add: a request handled twice (an error route, a rehandle) keeps one object.
			extra.Set(zap.Object("ai_gateway", (*logFields)(res)))
		}
	}
	lvl := zapcore.DebugLevel
	if res.Status >= 500 || res.Err != nil && res.Err.Status >= 500 {
		lvl = zapcore.ErrorLevel
	}
	if ce := h.logger.Check(lvl, "ai gateway request"); ce != nil {
		ce.Write(zap.Int("status", res.Status), zap.Duration("duration", took), zap.Inline((*logFields)(res)))
	}
}

// resultPlaceholder holds the request's latest *gateway.Result in its replacer, for the placeholders
// {http.ai_gateway.*}.
const resultPlaceholder = "ai_gateway_result"

// placeholder returns the value of the placeholder {http.ai_gateway.<name>} for a request's result.
func placeholder(res *gateway.Result, name string) (any, bool) {
	switch name {
	case "client_key":
		return res.ClientKey, true
	case "endpoint":
		return res.Endpoint, true
	case "provider":
		return res.Provider, true
	case "model":
		return res.ClientModel, true
	case "upstream_model":
		return res.UpstreamModel, true
	case "prompt_tokens":
		return res.Usage.PromptTokens, true
	case "completion_tokens":
		return res.Usage.CompletionTokens, true
	case "total_tokens":
		return res.Usage.TotalTokens, true
	case "usage_origin":
		return res.Usage.Origin.String(), true
	case "status":
		return res.Status, true
	case "attempts":
		return len(res.Attempts), true
	case "cost":
		if res.CostUSD >= 0 {
			return strconv.FormatFloat(res.CostUSD, 'f', -1, 64), true
		}
	case "video_seconds":
		if res.Usage.VideoSeconds > 0 {
			return res.Usage.VideoSeconds, true
		}
	}
	return nil, false
}

// logFields is a Result as log fields: the access log's "ai_gateway" object, and the handler's own line.
// Its methods encode straight from the Result, with no allocation.
type logFields gateway.Result

func (f *logFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("endpoint", f.Endpoint)
	enc.AddString("client_key", f.ClientKey)
	if f.KeyID != "" {
		enc.AddString("key_id", f.KeyID)
		enc.AddString("key_name", f.KeyName)
	}
	enc.AddString("model", f.ClientModel)
	enc.AddString("provider", f.Provider)
	enc.AddString("upstream_model", f.UpstreamModel)
	enc.AddBool("stream", f.Stream)
	enc.AddInt("prompt_tokens", f.Usage.PromptTokens)
	enc.AddInt("completion_tokens", f.Usage.CompletionTokens)
	enc.AddInt("total_tokens", f.Usage.TotalTokens)
	enc.AddString("usage_origin", f.Usage.Origin.String())
	enc.AddFloat64("cost_usd", max(f.CostUSD, 0))
	// Media units, on the image, audio and video endpoints' lines only.
	if f.Usage.Images > 0 {
		enc.AddInt("images", f.Usage.Images)
	}
	if f.Usage.Characters > 0 {
		enc.AddInt("characters", f.Usage.Characters)
	}
	if f.Usage.AudioSeconds > 0 {
		enc.AddFloat64("audio_seconds", f.Usage.AudioSeconds)
	}
	if f.Usage.VideoSeconds > 0 {
		enc.AddInt("video_seconds", f.Usage.VideoSeconds)
		enc.AddString("video_size", f.Usage.VideoSize)
	}
	enc.AddDuration("time_to_first_byte", f.TimeToFirstByte)
	_ = enc.AddArray("attempts", (*logAttempts)(f))
	if f.MaxTokensAsked > 0 {
		enc.AddInt("max_tokens_asked", f.MaxTokensAsked)
		enc.AddInt("max_tokens_clamped_to", f.MaxTokensSent)
	}
	if f.Err != nil {
		enc.AddString("error", f.Err.Error())
	}
	return nil
}

// logAttempts is a Result's attempts as a log array.
type logAttempts gateway.Result

func (as *logAttempts) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for i := range as.Attempts {
		_ = enc.AppendObject((*logAttempt)(&as.Attempts[i]))
	}
	return nil
}

// logAttempt is one attempt as a log object.
type logAttempt gateway.Attempt

func (a *logAttempt) MarshalLogObject(o zapcore.ObjectEncoder) error {
	o.AddString("target", a.Target)
	o.AddString("outcome", outcome((*gateway.Attempt)(a)))
	if a.Err != "" {
		o.AddString("failure", a.Kind.String()) // answer, not_sent or no_answer
	}
	o.AddDuration("duration", a.Duration)
	return nil
}

func outcome(a *gateway.Attempt) string {
	if a.Err == "" {
		return strconv.Itoa(a.Status)
	}
	return strconv.Itoa(a.Status) + " " + a.Err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// moduleVersion is this module's version as built into the binary ("v1.2.3" with xcaddy), or "dev".
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	const path = "github.com/aibackend/caddy-ai-gateway"
	if bi.Main.Path == path && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == path && m.Version != "" && m.Version != "(devel)" {
			return m.Version
		}
	}
	return "dev"
}
