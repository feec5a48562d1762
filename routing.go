package aigateway

import (
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Route serves one client-facing model name from ordered tiers of targets.
type Route struct {
	// Name is the model name clients send, e.g. "smart".
	Name string `json:"name"`
	// Tiers are tried in order; the next tier is used when the current one has no healthy target left.
	Tiers [][]RouteTarget `json:"tiers"`
	// Policy picks among a tier's targets: weighted (default), round_robin, least_busy or lowest_latency.
	Policy string `json:"policy,omitempty"`
}

// RouteTarget is one target of a route tier.
type RouteTarget struct {
	// Model is "provider/model" or an alias.
	Model string `json:"model"`
	// Weight is the target's share under the weighted policy. Default: 1.
	Weight int `json:"weight,omitempty"`
}

// RetryConfig says which failed attempts are retried. The next attempt goes to another target when one exists.
type RetryConfig struct {
	// Statuses are the upstream statuses retried. Default: 429, 500, 502, 503, 504, 529. Connection errors
	// and timeouts are always retried.
	Statuses []int `json:"statuses,omitempty"`
	// MaxAttempts bounds the attempts of one request, the first included. Default: 3.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// BaseDelay is the backoff before retrying the same target; it doubles each time, with full jitter.
	// Default: 250ms.
	BaseDelay caddy.Duration `json:"base_delay,omitempty"`
	// MaxDelay caps the backoff. Default: 4s.
	MaxDelay caddy.Duration `json:"max_delay,omitempty"`
	// MaxRetryAfter is the longest retry-after the gateway waits out before retrying the same target; an
	// upstream asking for more gets its error passed to the client. Default: 5s.
	MaxRetryAfter caddy.Duration `json:"max_retry_after,omitempty"`
	// Deadline bounds all attempts of one request. Default: 60s.
	Deadline caddy.Duration `json:"deadline,omitempty"`
}

// CooldownConfig configures the circuit breaker that rests failing targets.
type CooldownConfig struct {
	// Disabled never rests a target.
	Disabled bool `json:"disabled,omitempty"`
	// ConsecutiveFailures rests a target after this many failures in a row. Default: 3.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// ErrorRate rests a target whose failure fraction in Window is over it (0..1). Default: 0.5.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// Window is the span of the error rate. Default: 30s.
	Window caddy.Duration `json:"window,omitempty"`
	// MinRequests is how many attempts a window needs before its error rate counts. Default: 10.
	MinRequests int `json:"min_requests,omitempty"`
	// Duration is how long a target rests before one probe request. Default: 10s.
	Duration caddy.Duration `json:"duration,omitempty"`
}

// PriceConfig prices the models matching a glob, in USD per million tokens.
type PriceConfig struct {
	// Model is a glob over "provider/model", e.g. openai/gpt-4o* or vllm/*.
	Model string `json:"model"`
	// Input is the price of prompt tokens.
	Input float64 `json:"input"`
	// Output is the price of completion tokens.
	Output float64 `json:"output"`
	// CachedInput is the price of prompt tokens read from the provider's cache. Default: Input.
	CachedInput float64 `json:"cached_input,omitempty"`
	// CacheWrite is the price of prompt tokens written to the provider's cache (Anthropic's 5-minute
	// writes, also on Bedrock and Vertex AI). Default: Input.
	CacheWrite float64 `json:"cache_write,omitempty"`
	// CacheWrite1h is the price of prompt tokens written to the cache for one hour. Default: CacheWrite.
	CacheWrite1h float64 `json:"cache_write_1h,omitempty"`
}

func (h *Handler) routerRoutes() []router.RouteConfig {
	out := make([]router.RouteConfig, 0, len(h.Routes))
	for _, r := range h.Routes {
		rc := router.RouteConfig{Name: r.Name, Policy: router.Policy(r.Policy)}
		for _, tier := range r.Tiers {
			ts := make([]router.WeightedTarget, 0, len(tier))
			for _, t := range tier {
				ts = append(ts, router.WeightedTarget{Model: t.Model, Weight: t.Weight})
			}
			rc.Tiers = append(rc.Tiers, ts)
		}
		out = append(out, rc)
	}
	return out
}

func (h *Handler) retryPolicy() router.RetryPolicy {
	if h.Retry == nil {
		return router.RetryPolicy{}
	}
	return router.RetryPolicy{Statuses: h.Retry.Statuses, MaxAttempts: h.Retry.MaxAttempts,
		BaseDelay: time.Duration(h.Retry.BaseDelay), MaxDelay: time.Duration(h.Retry.MaxDelay),
		MaxRetryAfter: time.Duration(h.Retry.MaxRetryAfter), Deadline: time.Duration(h.Retry.Deadline)}
}

func (h *Handler) breaker() router.BreakerConfig {
	if h.Cooldown == nil {
		return router.BreakerConfig{}
	}
	c := h.Cooldown
	return router.BreakerConfig{Disabled: c.Disabled, ConsecutiveFailures: c.ConsecutiveFailures, ErrorRate: c.ErrorRate,
		Window: time.Duration(c.Window), MinRequests: c.MinRequests, Cooldown: time.Duration(c.Duration)}
}

func (h *Handler) priceTable() (*usage.PriceTable, error) {
	rules := make([]usage.PriceRule, 0, len(h.Prices))
	for _, p := range h.Prices {
		rules = append(rules, usage.PriceRule{Pattern: p.Model, Price: usage.Price{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput,
			CacheWrite: p.CacheWrite, CacheWrite1h: p.CacheWrite1h}})
	}
	return usage.NewPriceTable(rules)
}
