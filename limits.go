package aigateway

import (
	"fmt"
	"net/http"
	"path"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// RateLimit caps requests, tokens and spend per key. Counters are kept per rule and per key, hashed.
type RateLimit struct {
	ratelimit.Rule
	// Key is a placeholder expression naming who is limited, e.g. {http.ai_gateway.client_key} (the
	// authenticated client key's identity), {http.ai_gateway.model} or {remote_host}. A key built from a raw
	// request header is only as good as the header: a client that can vary it gets a fresh counter each time.
	// Default: one counter for everyone.
	Key string `json:"key,omitempty"`
	// MatchModels, when set, limits the rule to requests that may reach a matching model: a glob such as
	// openai/* is matched against the model the client named, then against each target tried
	// ("provider/model" after alias and route resolution) and each request-level fallback model. A rule
	// matching the client's model is charged once, before any upstream is contacted; otherwise it is charged
	// before the first attempt of each matching target, and a target it refuses is skipped.
	MatchModels []string `json:"match_models,omitempty"`
}

// RateLimitStore says where limit counters live.
type RateLimitStore struct {
	// Type is memory (default; this process, kept across config reloads) or redis (shared by every gateway
	// using the same Redis and prefix).
	Type string `json:"type,omitempty"`
	// Address is the Redis server's host:port (the first seed node of a cluster, the first Sentinel).
	// Default: 127.0.0.1:6379.
	Address string `json:"address,omitempty"`
	// Addresses are more seed nodes of a Redis Cluster, or more Sentinels.
	Addresses []string `json:"addresses,omitempty"`
	// Cluster connects to a Redis Cluster through the seed nodes; every script then touches one hash slot.
	Cluster bool `json:"cluster,omitempty"`
	// SentinelMaster connects through Redis Sentinel (Address and Addresses are the Sentinels) to the master of
	// this name.
	SentinelMaster string `json:"sentinel_master,omitempty"`
	// SentinelPassword authenticates to the Sentinels; placeholders are resolved at load time.
	SentinelPassword string `json:"sentinel_password,omitempty"`
	// Username is the Redis ACL user.
	Username string `json:"username,omitempty"`
	// Password authenticates to Redis; placeholders such as {env.REDIS_PASSWORD} are resolved at load time.
	Password string `json:"password,omitempty"`
	// DB is the Redis database number.
	DB int `json:"db,omitempty"`
	// Prefix starts every Redis key. Default: aigw:.
	Prefix string `json:"prefix,omitempty"`
	// OnStoreError is allow (default: serve, log and count) or deny (answer 503) when the store fails.
	OnStoreError string `json:"on_store_error,omitempty"`
}

// stores keeps limit stores across config reloads, keyed by where they keep their counters.
var stores = caddy.NewUsagePool()

// provisionLimits builds the limiter from the handler's rules over a store kept across reloads.
func (h *Handler) provisionLimits(repl *caddy.Replacer) (*ratelimit.Limiter, error) {
	if len(h.RateLimits) == 0 {
		return nil, nil
	}
	cfg := h.RateLimitStore
	if cfg == nil {
		cfg = &RateLimitStore{}
	}
	policy, err := ratelimit.ParseStoreErrorPolicy(orDefault(cfg.OnStoreError, "allow"))
	if err != nil {
		return nil, err
	}
	var key string
	var build func() (caddy.Destructor, error)
	switch cfg.Type {
	case "", "memory":
		key = "memory"
		build = func() (caddy.Destructor, error) { return ratelimit.NewMemoryStore(), nil }
	case "redis":
		key, build = redisStore(cfg, repl)
	default:
		return nil, fmt.Errorf("rate_limit_store: unknown type '%s': use memory or redis", cfg.Type)
	}
	val, _, err := stores.LoadOrNew(key, build)
	if err != nil {
		return nil, fmt.Errorf("rate_limit_store: %v", err)
	}
	h.storeKey = key
	rules := make([]ratelimit.Rule, len(h.RateLimits))
	for i, rl := range h.RateLimits {
		for _, g := range rl.MatchModels {
			if _, err := path.Match(g, ""); err != nil {
				return nil, fmt.Errorf("rate_limit %s: bad model pattern '%s': %v", rl.Name, g, err)
			}
		}
		rules[i] = rl.Rule
	}
	return ratelimit.New(val.(ratelimit.Store), rules, ratelimit.Options{OnStoreError: policy})
}

// redisStore returns the pool key and constructor of the Redis store cfg describes (a single server,
// Sentinel or a cluster).
func redisStore(cfg *RateLimitStore, repl *caddy.Replacer) (string, func() (caddy.Destructor, error)) {
	opts := redisOptions(cfg, repl)
	return "redis|" + redisIdentity(opts), func() (caddy.Destructor, error) { return ratelimit.NewRedisStore(opts) }
}

// claims expands the key of each rule that applies to scope: at admission (no target), the rules without
// a model match and those matching the client's model; at an attempt, the rules whose match covers the
// target or the client-facing model it serves (the gateway skips those already claimed at admission).
func (h *Handler) claims(r *http.Request, scope gateway.LimitScope) []ratelimit.Claim {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	repl.Set("http.ai_gateway.client_key", scope.ClientKey)
	repl.Set("http.ai_gateway.model", scope.Model)
	var out []ratelimit.Claim
	for _, rl := range h.RateLimits {
		if scope.Target == "" && !matchesAny(rl.MatchModels, scope.Model) {
			continue
		}
		if scope.Target != "" && (len(rl.MatchModels) == 0 ||
			!matchesAny(rl.MatchModels, scope.Model) && !matchesAny(rl.MatchModels, scope.Target)) {
			continue
		}
		out = append(out, ratelimit.Claim{Rule: rl.Name, Key: repl.ReplaceAll(rl.Key, "")})
	}
	return out
}

func matchesAny(globs []string, model string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, model); ok {
			return true
		}
	}
	return false
}

// storeFailed logs a limit-store failure loudly; the request proceeds or is refused per on_store_error.
func (h *Handler) storeFailed(err error) {
	h.metrics.storeErrors.Inc()
	h.logger.Error("RATE LIMIT STORE UNAVAILABLE: limits are not being enforced as configured", zap.Error(err),
		zap.String("on_store_error", orDefault(h.storeErrorPolicy(), "allow")))
}

func (h *Handler) storeErrorPolicy() string {
	if h.RateLimitStore == nil {
		return ""
	}
	return h.RateLimitStore.OnStoreError
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
