// Package gateway is the AI gateway's request engine: it validates OpenAI Chat Completions requests, picks an
// upstream, translates to the provider's dialect, and relays the answer (streamed event by event) back in
// OpenAI's format with usage. It has no Caddy dependency, so Go programs can embed it as an http.Handler; the
// Caddy module in the repository root is a thin layer of configuration, placeholders and logging around it.
package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxRequestBody  = 4 << 20
	DefaultMaxResponseBody = 16 << 20
	DefaultMaxEventSize    = 1 << 20
	DefaultMaxOutputTokens = 8192
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
	// Models optionally restricts which models clients may ask this provider for.
	Models []string
	// Timeout bounds a whole exchange, streaming included. Default: DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds connecting to the upstream. Default: DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response headers. Default: none (Timeout).
	ResponseHeaderTimeout time.Duration
	// FirstTokenTimeout bounds the wait for a stream's first event; past it the attempt fails and the next
	// target is tried. Default: none (Timeout).
	FirstTokenTimeout time.Duration
	// Transport overrides the provider's HTTP transport (tests, custom TLS). Default: a tuned http.Transport.
	Transport http.RoundTripper
}

// Config configures a Gateway.
type Config struct {
	Providers []Provider
	// Aliases maps client-visible model names to "provider/model".
	Aliases map[string]string
	// DefaultModel is used when a request names no model.
	DefaultModel string
	// MaxRequestBody bounds request bodies in bytes. Default: DefaultMaxRequestBody.
	MaxRequestBody int64
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
	// ClientKeys, when not empty, are the Bearer keys clients must present.
	ClientKeys []string
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
	// Claims returns the rate-limit claims of a validated request for model (the client-facing name). It
	// runs before any upstream is contacted; the gateway fills in the token estimate of claims whose rule
	// limits tokens.
	Claims func(r *http.Request, model string) []ratelimit.Claim
	// OnStoreError is told about every failure of the rate-limit store (the request proceeds or is refused
	// according to the limiter's policy).
	OnStoreError func(err error)
}

// Gateway serves the OpenAI-compatible API. It is safe for concurrent use.
type Gateway struct {
	cfg       Config
	router    *router.Router
	providers map[string]*upstream
	keyHashes [][sha256.Size]byte
	created   int64
	retry     router.RetryPolicy
	tokenizer *usage.Tokenizer
	prices    *usage.PriceTable
	redact    *redactor
}

// New validates cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = DefaultMaxRequestBody
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
	g := &Gateway{cfg: cfg, providers: make(map[string]*upstream, len(cfg.Providers)), created: time.Now().Unix()}
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
			return nil, fmt.Errorf("provider '%s': base URL '%s' is not an http(s) URL", p.Name, p.BaseURL)
		}
		rc.Providers = append(rc.Providers, router.ProviderConfig{Name: p.Name, Models: p.Models, Keys: len(p.APIKeys)})
		g.providers[p.Name] = newUpstream(p)
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
	for _, k := range cfg.ClientKeys {
		if k != "" {
			g.keyHashes = append(g.keyHashes, sha256.Sum256([]byte(k)))
		}
	}
	return g, nil
}

// Close releases idle upstream connections.
func (g *Gateway) Close() {
	for _, u := range g.providers {
		u.close()
	}
}

// Endpoint is what a request path asks for.
type Endpoint uint8

// Endpoints the gateway serves.
const (
	NotOurs Endpoint = iota
	ChatCompletions
	ListModels
	GetModel
)

// Route says which endpoint a request is for, from the end of its path, so the gateway works under any prefix
// (/v1, /api/v1, ...). Requests for anything else belong to the next handler.
func Route(r *http.Request) Endpoint {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		return ChatCompletions
	case strings.HasSuffix(p, "/models"):
		return ListModels
	case strings.Contains(p, "/models/"):
		return GetModel
	}
	return NotOurs
}

// Result describes one handled request, for logs, placeholders and metrics.
type Result struct {
	// Status is the HTTP status sent to the client.
	Status int
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
}

// Attempt is one try of one upstream target.
type Attempt struct {
	Target   string
	Status   int
	Err      string
	Duration time.Duration
}

// ServeHTTP serves the request and discards the Result.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.Serve(w, r)
}

// Serve answers one request for a gateway endpoint and returns what happened. Requests for other paths get
// a 404 OpenAI-shaped error; embedders that chain handlers check Route first.
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request) *Result {
	res := &Result{}
	ep := Route(r)
	if ep == NotOurs {
		g.fail(w, res, transform.NewError(http.StatusNotFound, "invalid_request_error", "unknown_url",
			"unknown request URL: "+r.Method+" "+r.URL.Path))
		return res
	}
	if e := g.authorize(r); e != nil {
		g.fail(w, res, e)
		return res
	}
	switch ep {
	case ChatCompletions:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use POST for "+r.URL.Path))
			return res
		}
		g.serveChat(w, r, res)
	case ListModels, GetModel:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use GET for "+r.URL.Path))
			return res
		}
		g.serveModels(w, r, ep, res)
	}
	return res
}

func (g *Gateway) authorize(r *http.Request) *transform.Error {
	if len(g.keyHashes) == 0 {
		return nil
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
		match := 0
		for i := range g.keyHashes {
			match |= subtle.ConstantTimeCompare(sum[:], g.keyHashes[i][:])
		}
		if match == 1 {
			return nil
		}
	}
	msg := "missing API key: send it as 'Authorization: Bearer <key>'"
	if ok {
		msg = "incorrect API key provided"
	}
	return transform.NewError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", msg)
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
