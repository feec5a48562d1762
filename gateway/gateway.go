// Package gateway is the AI gateway's request engine: it validates OpenAI API requests (chat completions,
// completions, embeddings, moderations, rerank, images, audio; see endpoint.go, one description per
// endpoint, form.go for multipart uploads, media.go for answers that are not JSON and video.go for video
// jobs), picks an
// upstream whose dialect serves the endpoint, translates to the provider's dialect, and relays the answer
// (streamed event by event) back in OpenAI's format with usage. It has no Caddy dependency, so Go programs can embed it as an http.Handler; the
// Caddy module in the repository root is a thin layer of configuration, placeholders and logging around it.
package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxRequestBody  = 4 << 20
	DefaultMaxUploadBody   = 26 << 20
	DefaultMaxResponseBody = 16 << 20
	DefaultMaxEventSize    = 1 << 20
	DefaultMaxOutputTokens = 8192
	DefaultMaxN            = 8
	DefaultTimeout         = 10 * time.Minute
	DefaultDialTimeout     = 10 * time.Second
	maxErrorBody           = 1 << 20
)

// Provider is one configured upstream API.
type Provider struct {
	// Name is the prefix clients use in model names.
	Name string
	// Dialect speaks the provider's API.
	Dialect transform.Dialect
	// BaseURL is prefixed to the dialect's request paths, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKeys are the provider's credentials; each is a separate target. Empty for keyless local servers.
	APIKeys []string
	// Header holds extra headers sent with every upstream request.
	Header http.Header
	// ForwardHeaders names client request headers sent upstream on top of the default allow-list
	// (Accept-Language, User-Agent, X-Request-Id, X-Client-Request-Id, Traceparent, Tracestate), e.g.
	// OpenAI-Beta. Any other client header is dropped. Credentials (Authorization, Cookie, API-key headers),
	// the headers the gateway sets itself (Host, Content-Type, Content-Length, Content-Encoding, Accept,
	// Accept-Encoding) and hop-by-hop headers are refused by New.
	ForwardHeaders []string
	// Models optionally restricts which models clients may ask this provider for.
	Models []string
	// Policy chooses among the provider's API keys for a "provider/model" request: router.PolicyWeighted
	// (the default), PolicyRoundRobin, PolicyLeastBusy or PolicyLowestLatency.
	Policy router.Policy
	// Timeout bounds a whole exchange, streaming included. Default: DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds connecting to the upstream. Default: DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response headers. Default: none (Timeout).
	ResponseHeaderTimeout time.Duration
	// FirstTokenTimeout bounds the wait for a stream's first event; past it the attempt fails and the next
	// target is tried. Default: none (Timeout).
	FirstTokenTimeout time.Duration
	// Transport overrides the provider's HTTP transport (tests, custom TLS). Default: for a plain-http base URL
	// that no proxy applies to, the gateway's own HTTP/1.1 client (h1Client); otherwise a tuned
	// http.Transport. AIGW_NETHTTP_CLIENT=1 in the environment makes every provider use the http.Transport.
	Transport http.RoundTripper
}

// Config configures a Gateway.
type Config struct {
	Providers []Provider
	// Aliases maps client-visible model names to "provider/model"; names with a '*' are globs (see
	// router.Config.Aliases).
	Aliases map[string]string
	// DefaultModel is used when a request names no model.
	DefaultModel string
	// MaxRequestBody bounds request bodies in bytes. Default: DefaultMaxRequestBody.
	MaxRequestBody int64
	// MaxUploadBody bounds the multipart bodies of the upload endpoints (image edits, audio transcriptions and
	// translations), in bytes: the files are streamed upstream rather than held in memory, so the limit is
	// the providers' (OpenAI takes audio files up to 25 MB) plus room for the other fields. A larger body is
	// refused with 413, before anything is sent when its Content-Length says so. Default:
	// DefaultMaxUploadBody (26 MiB).
	MaxUploadBody int64
	// MaxResponseBody bounds a non-streamed upstream answer, in bytes: a larger one is not read further and
	// fails the attempt with a 502 upstream_response_too_large (the next target is tried). Each attempt holds
	// at most about this much, so it also bounds memory per request in flight. Default: DefaultMaxResponseBody.
	MaxResponseBody int64
	// MaxEventSize bounds one line (and one event) of an upstream stream, in bytes, with the same error; a
	// stream of any length is relayed in memory bounded by it. Default: DefaultMaxEventSize.
	MaxEventSize int64
	// MaxOutputTokens is the largest max_tokens / max_completion_tokens a client may ask for.
	// Default: DefaultMaxOutputTokens.
	MaxOutputTokens int
	// MaxN is the largest n (number of choices) a client may ask for. Default: DefaultMaxN.
	MaxN int
	// ClientKeys, when not empty, are the Bearer keys clients must present. Each request's key is published
	// as a non-secret identity (Result.ClientKey, LimitScope.ClientKey).
	ClientKeys []string
	// OpenAPIPublic serves GET …/openapi.json and …/openapi.yaml without a client key. Default: the document
	// needs a valid key like every other endpoint.
	OpenAPIPublic bool
	// DocsPage serves the "Try it" page at …/docs/: the OpenAPI document rendered with a request panel per
	// endpoint. The page itself needs no key; the requests it sends use the key its user types in.
	DocsPage bool
	// Version is the version the OpenAPI document states; default "dev".
	Version string
	// Routes are client-facing model names served by tiers of targets.
	Routes []router.RouteConfig
	// Breaker configures the per-target circuit breaker.
	Breaker router.BreakerConfig
	// Retry says which failed attempts are retried, how often and how long to wait.
	Retry router.RetryPolicy
	// Tokenizer counts tokens when an upstream reports no usage. Default: a new usage.Tokenizer.
	Tokenizer *usage.Tokenizer
	// Prices prices usage. Default: the embedded price table.
	Prices *usage.PriceTable
	// ReportCost adds usage.cost (USD) to response bodies and final usage chunks.
	ReportCost bool
	// Limiter, when set, charges each request against the claims Claims returns for it.
	Limiter *ratelimit.Limiter
	// Claims returns the rate-limit claims of a validated request for scope. It is called once at admission,
	// before any upstream is contacted (scope.Target empty), and then before the first attempt of each
	// distinct target (scope.Target set): a rule already claimed at admission is not charged again, and a
	// target whose claims are refused is skipped. The gateway fills in each claim's token estimate (prompt
	// plus n × max_tokens) and worst-case cost (that estimate at the price of the most expensive target
	// the claim may pay for).
	Claims func(r *http.Request, scope LimitScope) []ratelimit.Claim
	// ResponseStore keeps the responses the gateway makes itself (the Responses API served through chat
	// completions), for previous_response_id and GET …/responses/{id}. Default: a MemoryResponseStore of
	// DefaultResponseStoreBytes and DefaultResponseStoreTTL.
	ResponseStore ResponseStore
	// OnStoreError is told about every failure of the rate-limit store (the request proceeds or is refused
	// according to the limiter's policy).
	OnStoreError func(err error)
	// Keys, when set, accepts virtual keys (secrets starting with keys.SecretPrefix) beside ClientKeys, and
	// refuses its admin keys on every model endpoint. A virtual key's allowed models are checked against each
	// target after alias and route resolution, its limits and budget are reserved at admission and settled
	// like rate_limit rules, and its usage is recorded when the request ends, for every endpoint.
	Keys *keys.Manager
	// OnKeyUsage, when set, is told about each finished request of a virtual key (for metrics).
	OnKeyUsage func(k *keys.Key, u keys.Usage)
}

// LimitScope is what rate-limit claims are asked for: a request at admission, or one target of it.
type LimitScope struct {
	// ClientKey is the authenticated client's identity, as in Result.ClientKey.
	ClientKey string
	// Model is the client-facing model name: at admission the one the client asked for; at an attempt
	// the one (the requested model or a fallback from "models") whose target is tried.
	Model string
	// Target is "provider/model" of the target about to be tried, after alias and route resolution;
	// empty at admission.
	Target string
}

// Gateway serves the OpenAI-compatible API. It is safe for concurrent use.
type Gateway struct {
	cfg       Config
	router    *router.Router
	providers map[string]*upstream
	keyHashes [][sha256.Size]byte
	// keyIDs are the identities of the client keys, index for index with keyHashes.
	keyIDs    []string
	created   int64
	retry     router.RetryPolicy
	tokenizer *usage.Tokenizer
	prices    *usage.PriceTable
	redact    *redactor
	// modelList is the answer to GET …/models; owners maps each configured name to its owned_by.
	modelList []byte
	owners    map[string]string
	// responses keeps the responses made through chat completions.
	responses ResponseStore
	// buffers lends streams the buffers of bursts read and events queued for one write.
	buffers transform.Buffers
}

// New validates cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = DefaultMaxRequestBody
	}
	if cfg.MaxUploadBody <= 0 {
		cfg.MaxUploadBody = DefaultMaxUploadBody
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = DefaultMaxResponseBody
	}
	if cfg.MaxEventSize <= 0 {
		cfg.MaxEventSize = DefaultMaxEventSize
	}
	if cfg.MaxOutputTokens <= 0 {
		cfg.MaxOutputTokens = DefaultMaxOutputTokens
	}
	if cfg.MaxN <= 0 {
		cfg.MaxN = DefaultMaxN
	}
	g := &Gateway{cfg: cfg, providers: make(map[string]*upstream, len(cfg.Providers)), created: time.Now().Unix(),
		responses: cfg.ResponseStore}
	if g.responses == nil {
		g.responses = NewMemoryResponseStore(0, 0)
	}
	g.retry = cfg.Retry.WithDefaults()
	g.tokenizer = cfg.Tokenizer
	if g.tokenizer == nil {
		g.tokenizer = usage.NewTokenizer()
	}
	g.prices = cfg.Prices
	if g.prices == nil {
		var err error
		if g.prices, err = usage.NewPriceTable(nil); err != nil {
			return nil, err
		}
	}
	rc := router.Config{Aliases: cfg.Aliases, Routes: cfg.Routes, Breaker: cfg.Breaker}
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		if p.Dialect == nil {
			return nil, fmt.Errorf("provider '%s' has no dialect", p.Name)
		}
		if p.BaseURL == "" {
			return nil, fmt.Errorf("provider '%s' has no base URL: set base_url", p.Name)
		}
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL is not quoted: it may hold credentials (user:password@, a key in its query).
			return nil, fmt.Errorf("provider '%s': base URL is not an http(s) URL with a host, such as "+
				"https://api.openai.com/v1", p.Name)
		}
		forward, err := forwardList(p)
		if err != nil {
			return nil, err
		}
		rc.Providers = append(rc.Providers, router.ProviderConfig{Name: p.Name, Models: p.Models, Keys: len(p.APIKeys), Policy: p.Policy})
		g.providers[p.Name] = newUpstream(p, forward)
	}
	g.redact = newRedactor(cfg.Providers)
	r, err := router.New(rc)
	if err != nil {
		return nil, err
	}
	g.router = r
	if cfg.DefaultModel != "" {
		if _, err := r.Plan(cfg.DefaultModel, nil); err != nil {
			return nil, fmt.Errorf("default model: %v", err)
		}
	}
	g.modelList = g.appendModelList(nil)
	for _, k := range cfg.ClientKeys {
		if k != "" {
			g.keyHashes = append(g.keyHashes, sha256.Sum256([]byte(k)))
			g.keyIDs = append(g.keyIDs, clientKeyID(k))
		}
	}
	return g, nil
}

// clientKeyID is the identity published for a client key: "key-" and 16 hex digits of a SHA-256 over a
// fixed label and the key. It is the same in every process and config that has the key, and does not reveal
// the key (but, like any hash, lets a guess of a short key be checked: use long random keys).
func clientKeyID(key string) string {
	sum := sha256.Sum256([]byte("caddy-ai-gateway client key\x00" + key))
	return "key-" + hex.EncodeToString(sum[:8])
}

// Close releases idle upstream connections.
func (g *Gateway) Close() {
	for _, u := range g.providers {
		u.close()
	}
}

// Result describes one handled request, for logs, placeholders and metrics. The caller owns it: the access
// log reads it after the response is written, so it must never be pooled or reused.
type Result struct {
	// Endpoint is the fixed name of the endpoint asked for (Endpoint.String): "chat_completions",
	// "embeddings", ...; empty for a path the gateway does not serve.
	Endpoint string
	// Status is the HTTP status sent to the client.
	Status int
	// ClientKey is the authenticated client's identity: "key-" and 16 hex digits of a SHA-256 of its key
	// with a fixed salt, never the key. Empty when no client keys are configured (every client is then one
	// anonymous identity), or when the request was refused before it was authenticated.
	ClientKey string
	// KeyID and KeyName identify the virtual key that authenticated the request (ClientKey is then
	// "vk-" and its id); empty for static client keys.
	KeyID, KeyName string
	// ClientModel is the model as the client named it (after default_model).
	ClientModel string
	// Provider and UpstreamModel name the target that answered (or the last one tried).
	Provider      string
	UpstreamModel string
	// Stream is true for streamed answers.
	Stream bool
	// Usage is the exchange's usage, with its origin.
	Usage usage.Usage
	// CostUSD is what the exchange cost; negative when the model has no known price.
	CostUSD float64
	// Attempts lists every upstream attempt in order.
	Attempts []Attempt
	// Err is the error sent to the client, if any.
	Err *transform.Error
	// TimeToFirstByte is when the first byte of the answer reached the client, from the start of the request.
	TimeToFirstByte time.Duration
	// MaxTokensAsked and MaxTokensSent are set when the gateway lowered the output-token limit of a Messages
	// or Responses API request (see clampOutputTokens): what the client asked for, and what was sent.
	MaxTokensAsked, MaxTokensSent int
}

// Attempt is one try of one upstream target.
type Attempt struct {
	// Target is "provider/model" as sent upstream, for logs: the model part may be any name a client sent.
	Target string
	// Label is the target's bounded name for metrics (router.Target.Label): "provider/model" when the
	// configuration names the model, else "provider/other".
	Label string
	// Status is the upstream's HTTP status, or the gateway's for a failure without one.
	Status int
	// Err describes the failure; empty for an answer relayed to the client.
	Err string
	// Kind says whether a failed attempt reached the upstream (transform.KindNotSent: it did not, and cost
	// nothing).
	Kind transform.ErrorKind
	// Duration is how long the attempt took.
	Duration time.Duration
}

// ServeHTTP serves the request and discards the Result.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.Serve(w, r)
}

// Serve answers one request for a gateway endpoint and returns what happened. Requests for other paths get
// a 404 OpenAI-shaped error; embedders that chain handlers check Route first.
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request) *Result {
	ep := g.Route(r)
	res := &Result{Endpoint: ep.String()}
	if ep == NotOurs {
		g.fail(w, res, transform.NewError(http.StatusNotFound, "invalid_request_error", "unknown_url",
			"unknown request URL: "+r.Method+" "+r.URL.Path))
		return res
	}
	if ep == DocsPage {
		g.serveDocsPage(w, r, res)
		return res
	}
	id, vk, e := g.authorize(r)
	if e != nil && !(ep == OpenAPIDocument && g.cfg.OpenAPIPublic) {
		g.failAs(w, res, endpointByID[ep], e)
		return res
	}
	res.ClientKey = id
	if vk != nil {
		res.KeyID, res.KeyName = vk.ID, vk.Name
	}
	switch ep {
	case OpenAPIDocument:
		g.serveOpenAPI(w, r, res)
	case ListModels, GetModel:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use GET for "+r.URL.Path))
			return res
		}
		g.serveModels(w, r, ep, res, vk)
	case Video, VideoContent:
		g.serveVideoCall(w, r, ep, res)
	case Response:
		g.serveResponse(w, r, res)
	default:
		spec := endpointByID[ep]
		if ep == Videos && r.Method != spec.methods {
			g.serveVideoCall(w, r, ep, res)
			return res
		}
		if r.Method != spec.methods {
			w.Header().Set("Allow", spec.methods)
			g.failAs(w, res, spec, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use "+spec.methods+" for "+r.URL.Path))
			return res
		}
		g.serveAPI(w, r, spec, res, vk)
	}
	return res
}

// authorize checks the client's key and returns its identity, and the virtual key when it is one. A request
// with more than one Authorization header is refused whether or not keys are configured: which one counts
// would otherwise depend on who reads it, and a rate-limit key built from the header could be varied at will.
// On the Anthropic Messages API (…/messages, …/messages/count_tokens), whose clients send their key as
// x-api-key, that header is accepted too; a request whose x-api-key and Bearer key differ is refused for the
// same reason.
func (g *Gateway) authorize(r *http.Request) (string, *keys.Key, *transform.Error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return "", nil, transform.NewError(http.StatusBadRequest, "invalid_request_error", "multiple_authorization_headers",
			"the request has more than one Authorization header: send exactly one, 'Authorization: Bearer <key>'")
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	key = strings.TrimSpace(key)
	if vs := r.Header.Values("X-Api-Key"); len(vs) > 0 && anthropicSurface(r.URL.Path) {
		if len(vs) > 1 || ok && strings.TrimSpace(vs[0]) != key {
			return "", nil, transform.NewError(http.StatusBadRequest, "invalid_request_error", "multiple_authorization_headers",
				"the request has two different API keys (x-api-key and Authorization): send one of them")
		}
		key, ok = strings.TrimSpace(vs[0]), true
	}
	if len(g.keyHashes) == 0 && g.cfg.Keys == nil {
		return "", nil, nil
	}
	if ok && g.cfg.Keys != nil {
		if strings.HasPrefix(key, keys.SecretPrefix) {
			k, err := g.cfg.Keys.Authenticate(r.Context(), key)
			if err != nil {
				var ae *keys.AuthError
				errors.As(err, &ae)
				typ := "invalid_request_error"
				if ae.Status >= 500 {
					typ = "server_error"
				}
				return "", nil, transform.NewError(ae.Status, typ, ae.Code, ae.Message)
			}
			return "vk-" + k.ID, k, nil
		}
		if g.cfg.Keys.IsAdmin(key) {
			return "", nil, transform.NewError(http.StatusForbidden, "invalid_request_error", "admin_key_not_allowed",
				"admin keys manage keys and cannot call models: use a client key")
		}
	}
	if ok {
		sum := sha256.Sum256([]byte(key))
		match, index := 0, 0
		for i := range g.keyHashes {
			eq := subtle.ConstantTimeCompare(sum[:], g.keyHashes[i][:])
			match |= eq
			index = subtle.ConstantTimeSelect(eq, i, index)
		}
		if match == 1 {
			return g.keyIDs[index], nil, nil
		}
	}
	msg := "missing API key: send it as 'Authorization: Bearer <key>'"
	switch {
	case ok:
		msg = "incorrect API key provided"
	case anthropicSurface(r.URL.Path):
		msg = "missing API key: send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'"
	}
	return "", nil, transform.NewError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", msg)
}

// anthropicSurface reports whether path is one of the Anthropic Messages API's.
func anthropicSurface(path string) bool {
	return strings.HasSuffix(path, "/messages") || strings.HasSuffix(path, "/messages/count_tokens")
}

// fail writes e as the response.
func (g *Gateway) fail(w http.ResponseWriter, res *Result, e *transform.Error) {
	res.Status = e.Status
	res.Err = e
	e.WriteHeaders(w.Header())
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(e.AppendJSON(make([]byte, 0, 256)), '\n'))
}

// asError converts any error into the OpenAI-shaped error sent to the client.
func asError(err error) *transform.Error {
	var e *transform.Error
	if errors.As(err, &e) {
		return e
	}
	var nf *router.NotFoundError
	if errors.As(err, &nf) {
		return &transform.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found",
			Param: "model", Message: nf.Error()}
	}
	return transform.NewError(http.StatusInternalServerError, "server_error", "", err.Error())
}
