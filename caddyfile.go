package aigateway

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("ai_gateway", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("ai_gateway", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	gw := new(Handler)
	err := gw.UnmarshalCaddyfile(h.Dispenser)
	return gw, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	ai_gateway [<matcher>] {
//	    # upstream providers (repeatable)
//	    provider <name> {
//	        type        <openai|azure|anthropic|gemini|preset>
//	        base_url    <url>
//	        api_key     <key...>                # e.g. {env.OPENAI_API_KEY}; repeatable
//	        header      <name> <value>          # repeatable
//	        forward_headers <name...>           # client headers sent upstream besides the default allow-list; repeatable
//	        models      <model...>              # allow-list; default: any
//	        policy      weighted|round_robin|least_busy|lowest_latency   # among several api keys; default weighted
//	        timeout                 <duration>  # whole exchange; default 10m
//	        dial_timeout            <duration>  # default 10s
//	        response_header_timeout <duration>
//	        first_token_timeout     <duration>  # streams: wait for the first event; then try the next target
//	        forward_metadata
//
//	        # azure only
//	        resource    <name>
//	        deployment  <model> <deployment>    # repeatable
//	        api_version <version>
//
//	        # anthropic only
//	        default_max_tokens <n>              # when the request sets none; default 4096
//	        anthropic_version  <version>        # default 2023-06-01
//	        anthropic_beta     <features>
//
//	        # gemini only
//	        include_thoughts
//	        thought_signature_fallback <value>
//
//	        # ollama_native only
//	        keep_alive <duration>|forever       # how long Ollama keeps the model loaded; 0 unloads at once
//	    }
//
//	    # model names
//	    alias         <name> <provider/model>   # repeatable
//	    default_model <provider/model>
//
//	    # routing: one client-facing name, several upstreams (repeatable)
//	    route <name> {
//	        target   <provider/model> [weight <n>]   # first tier; repeatable
//	        fallback <provider/model> [weight <n>]   # each line adds a tier, tried when the ones before fail
//	        policy   weighted|round_robin|least_busy|lowest_latency
//	    }
//	    retry {
//	        statuses        <code...>          # default 429 500 502 503 504 529
//	        max_attempts    <n>                # default 3
//	        base_delay      <duration>         # default 250ms, doubled per retry, full jitter
//	        max_delay       <duration>         # default 4s
//	        max_retry_after <duration>         # default 5s
//	        deadline        <duration>         # default 60s
//	    }
//	    cooldown {
//	        consecutive_failures <n>           # default 3
//	        error_rate           <percent>%    # default 50%
//	        window               <duration>    # default 30s
//	        min_requests         <n>           # default 10
//	        duration             <duration>    # default 10s
//	        off
//	    }
//
//	    # usage and cost
//	    price <model-glob> input <usd/1M> output <usd/1M> [cached_input <usd/1M>]   # repeatable
//	    report_cost on|off                     # default on
//
//	    # limits and access
//	    rate_limit <name> {                    # repeatable
//	        key      <placeholders>            # e.g. {http.ai_gateway.client_key}
//	        requests <n>/<window>              # e.g. 60/1m
//	        tokens   <n>/<window>              # e.g. 200000/1m
//	        budget   <usd>usd/<period>         # e.g. 25usd/1mo (periods 1m 1h 1d 1mo, calendar UTC)
//	        match    model <glob...>           # e.g. openai/*
//	    }
//	    rate_limit_store memory|redis {
//	        address  <host:port>
//	        username <user>
//	        password <password>                # e.g. {env.REDIS_PASSWORD}
//	        db       <n>
//	        prefix   <prefix>                  # default aigw:
//	    }
//	    on_store_error allow|deny              # default allow
//	    max_request_body  <size>               # default 4MB
//	    max_response_body <size>               # non-streamed upstream answers; default 16MiB
//	    max_event_size    <size>               # one line of an upstream stream; default 1MiB
//	    max_output_tokens <n>                  # default 8192
//	    max_n             <n>                  # largest n (choices per request); default 8
//	    client_keys       <key...>             # e.g. {env.GATEWAY_KEYS}
//	}
//
// Every option that takes one value may be given once per block (a repeat is an error); the list options
// (api_key, header, forward_headers, models, deployment, client_keys, statuses, match, target, fallback) add
// up, and provider, route, rate_limit, alias and price are repeated with different names. Durations and
// counts must be positive (omit an option for its default); prices must be finite and not negative.
//
// Presets (type, or the provider's name when type is omitted) supply the dialect and base URL: openai,
// openrouter, groq, mistral, deepseek, together, xai, fireworks, ollama (http://127.0.0.1:11434/v1), vllm
// (http://127.0.0.1:8000/v1), anthropic, gemini or google, and ollama_native (Ollama's own /api/chat at
// http://127.0.0.1:11434, NDJSON streams).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	opts := newOptionSet("provider", "alias", "route", "price", "rate_limit", "client_keys")
	for d.NextBlock(0) {
		if err := opts.see(d); err != nil {
			return err
		}
		switch d.Val() {
		case "provider":
			pc, err := unmarshalProvider(d)
			if err != nil {
				return err
			}
			for _, existing := range h.Providers {
				if existing.Name == pc.Name {
					return d.Errf("provider '%s' is defined twice", pc.Name)
				}
			}
			h.Providers = append(h.Providers, pc)
		case "alias":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			if h.Aliases == nil {
				h.Aliases = make(map[string]string)
			}
			if _, dup := h.Aliases[args[0]]; dup {
				return d.Errf("alias '%s' is defined twice", args[0])
			}
			h.Aliases[args[0]] = args[1]
		case "default_model":
			if !d.AllArgs(&h.DefaultModel) {
				return d.ArgErr()
			}
		case "max_request_body":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(s)
			if err != nil || n == 0 || n > math.MaxInt64 {
				return d.Errf("invalid max_request_body '%s': use a size such as 4MB", s)
			}
			h.MaxRequestBody = int64(n)
		case "max_response_body":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(s)
			if err != nil || n == 0 {
				return d.Errf("invalid max_response_body '%s': use a size such as 16MiB", s)
			}
			h.MaxResponseBody = int64(n)
		case "max_event_size":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(s)
			if err != nil || n == 0 {
				return d.Errf("invalid max_event_size '%s': use a size such as 1MiB", s)
			}
			h.MaxEventSize = int64(n)
		case "max_output_tokens":
			n, err := intArg(d, 1)
			if err != nil {
				return err
			}
			h.MaxOutputTokens = n
		case "max_n":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return d.Errf("invalid max_n '%s': use a positive integer", s)
			}
			h.MaxN = n
		case "client_keys":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.ClientKeys = append(h.ClientKeys, args...)
		case "route":
			rt, err := unmarshalRoute(d)
			if err != nil {
				return err
			}
			for _, existing := range h.Routes {
				if existing.Name == rt.Name {
					return d.Errf("route '%s' is defined twice", rt.Name)
				}
			}
			h.Routes = append(h.Routes, rt)
		case "retry":
			var err error
			if h.Retry, err = unmarshalRetry(d); err != nil {
				return err
			}
		case "cooldown":
			var err error
			if h.Cooldown, err = unmarshalCooldown(d); err != nil {
				return err
			}
		case "price":
			p, err := unmarshalPrice(d)
			if err != nil {
				return err
			}
			for _, existing := range h.Prices {
				if existing.Model == p.Model {
					return d.Errf("price for '%s' already specified", p.Model)
				}
			}
			h.Prices = append(h.Prices, p)
		case "fallthrough":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Fallthrough = true
		case "report_cost":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			on, err := parseOnOff(d, v)
			if err != nil {
				return err
			}
			h.ReportCost = &on
		case "rate_limit":
			rl, err := unmarshalRateLimit(d)
			if err != nil {
				return err
			}
			for _, existing := range h.RateLimits {
				if existing.Name == rl.Name {
					return d.Errf("rate_limit '%s' is defined twice", rl.Name)
				}
			}
			h.RateLimits = append(h.RateLimits, rl)
		case "rate_limit_store":
			// on_store_error may be given at the top level or in this block, but only once: opts sees both
			st, err := unmarshalStore(d, opts)
			if err != nil {
				return err
			}
			if h.RateLimitStore != nil && st.OnStoreError == "" {
				st.OnStoreError = h.RateLimitStore.OnStoreError
			}
			h.RateLimitStore = st
		case "on_store_error":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			if v != "allow" && v != "deny" {
				return d.Errf("on_store_error '%s': use allow or deny", v)
			}
			if h.RateLimitStore == nil {
				h.RateLimitStore = &RateLimitStore{}
			}
			h.RateLimitStore.OnStoreError = v
		default:
			return d.Errf("unrecognized subdirective '%s'", d.Val())
		}
	}
	return nil
}

func unmarshalProvider(d *caddyfile.Dispenser) (*ProviderConfig, error) {
	pc := new(ProviderConfig)
	if !d.Args(&pc.Name) {
		return nil, d.Err("provider needs a name: provider <name> { ... }")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionSet("api_key", "header", "forward_headers", "models", "deployment")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		sub := d.Val()
		switch sub {
		case "type", "base_url", "resource", "api_version", "anthropic_version", "anthropic_beta", "thought_signature_fallback":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			switch sub {
			case "type":
				pc.Type = v
			case "base_url":
				pc.BaseURL = v
			case "resource":
				pc.Resource = v
			case "api_version":
				pc.APIVersion = v
			case "anthropic_version":
				pc.AnthropicVersion = v
			case "anthropic_beta":
				pc.AnthropicBeta = v
			case "thought_signature_fallback":
				pc.ThoughtSignatureFallback = v
			}
		case "api_key":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pc.APIKeys = append(pc.APIKeys, args...)
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.ArgErr()
			}
			if pc.Headers == nil {
				pc.Headers = make(http.Header)
			}
			pc.Headers.Add(args[0], args[1])
		case "forward_headers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pc.ForwardHeaders = append(pc.ForwardHeaders, args...)
		case "models":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pc.Models = append(pc.Models, args...)
		case "policy":
			var err error
			if pc.Policy, err = policyArg(d); err != nil {
				return nil, err
			}
		case "keep_alive":
			if !d.AllArgs(&pc.KeepAlive) {
				return nil, d.ArgErr()
			}
			if _, err := keepAlive(pc.KeepAlive); err != nil {
				return nil, d.Err(err.Error())
			}
		case "deployment":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.ArgErr()
			}
			if _, dup := pc.Deployments[args[0]]; dup {
				return nil, d.Errf("deployment for '%s' already specified", args[0])
			}
			if pc.Deployments == nil {
				pc.Deployments = make(map[string]string)
			}
			pc.Deployments[args[0]] = args[1]
		case "timeout", "dial_timeout", "response_header_timeout", "first_token_timeout":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			switch sub {
			case "timeout":
				pc.Timeout = dur
			case "dial_timeout":
				pc.DialTimeout = dur
			case "response_header_timeout":
				pc.ResponseHeaderTimeout = dur
			case "first_token_timeout":
				pc.FirstTokenTimeout = dur
			}
		case "forward_metadata", "include_thoughts":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			if sub == "forward_metadata" {
				pc.ForwardMetadata = true
			} else {
				pc.IncludeThoughts = true
			}
		case "default_max_tokens":
			n, err := intArg(d, 1)
			if err != nil {
				return nil, err
			}
			pc.DefaultMaxTokens = n
		default:
			return nil, d.Errf("unrecognized provider subdirective '%s'", sub)
		}
	}
	return pc, nil
}

func unmarshalRoute(d *caddyfile.Dispenser) (*Route, error) {
	rt := new(Route)
	if !d.Args(&rt.Name) {
		return nil, d.Err("route needs a name: route <name> { target <provider/model> ... }")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionSet("target", "fallback")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		switch sub := d.Val(); sub {
		case "target", "fallback":
			args := d.RemainingArgs()
			t := RouteTarget{}
			switch {
			case len(args) == 1:
				t.Model = args[0]
			case len(args) == 3 && args[1] == "weight":
				t.Model = args[0]
				w, err := strconv.Atoi(args[2])
				if err != nil || w < 1 {
					return nil, d.Errf("invalid weight '%s': use a positive integer", args[2])
				}
				t.Weight = w
			default:
				return nil, d.Errf("%s <provider/model> [weight <n>]", sub)
			}
			if sub == "target" && len(rt.Tiers) > 1 {
				return nil, d.Err("target lines must come before fallback lines")
			}
			if sub == "target" {
				if len(rt.Tiers) == 0 {
					rt.Tiers = append(rt.Tiers, nil)
				}
				rt.Tiers[0] = append(rt.Tiers[0], t)
			} else {
				if len(rt.Tiers) == 0 {
					return nil, d.Err("a route needs at least one target before its fallbacks")
				}
				rt.Tiers = append(rt.Tiers, []RouteTarget{t})
			}
		case "policy":
			var err error
			if rt.Policy, err = policyArg(d); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unrecognized route subdirective '%s'", sub)
		}
	}
	if len(rt.Tiers) == 0 {
		return nil, d.Errf("route '%s' has no target", rt.Name)
	}
	return rt, nil
}

func unmarshalRetry(d *caddyfile.Dispenser) (*RetryConfig, error) {
	rc := new(RetryConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionSet("statuses")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		switch sub := d.Val(); sub {
		case "statuses":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			for _, a := range args {
				n, err := strconv.Atoi(a)
				if err != nil || n < 100 || n > 599 {
					return nil, d.Errf("invalid status '%s'", a)
				}
				rc.Statuses = append(rc.Statuses, n)
			}
		case "max_attempts":
			n, err := intArg(d, 1)
			if err != nil {
				return nil, err
			}
			rc.MaxAttempts = n
		case "base_delay", "max_delay", "max_retry_after", "deadline":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			switch sub {
			case "base_delay":
				rc.BaseDelay = dur
			case "max_delay":
				rc.MaxDelay = dur
			case "max_retry_after":
				rc.MaxRetryAfter = dur
			case "deadline":
				rc.Deadline = dur
			}
		default:
			return nil, d.Errf("unrecognized retry subdirective '%s'", sub)
		}
	}
	return rc, nil
}

func unmarshalCooldown(d *caddyfile.Dispenser) (*CooldownConfig, error) {
	cc := new(CooldownConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionSet()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		switch sub := d.Val(); sub {
		case "off":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			cc.Disabled = true
		case "consecutive_failures", "min_requests":
			n, err := intArg(d, 1)
			if err != nil {
				return nil, err
			}
			if sub == "consecutive_failures" {
				cc.ConsecutiveFailures = n
			} else {
				cc.MinRequests = n
			}
		case "error_rate":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			pct, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if err != nil || !(pct > 0 && pct <= 100) {
				return nil, d.Errf("invalid error_rate '%s': use a percentage such as 50%%", v)
			}
			cc.ErrorRate = pct / 100
		case "window", "duration":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			if sub == "window" {
				cc.Window = dur
			} else {
				cc.Duration = dur
			}
		default:
			return nil, d.Errf("unrecognized cooldown subdirective '%s'", sub)
		}
	}
	return cc, nil
}

func unmarshalPrice(d *caddyfile.Dispenser) (*PriceConfig, error) {
	args := d.RemainingArgs()
	if len(args) < 5 || len(args)%2 == 0 {
		return nil, d.Err("price <model-glob> input <usd/1M> output <usd/1M> [cached_input <usd/1M>]")
	}
	p := &PriceConfig{Model: args[0]}
	seen := map[string]bool{}
	for i := 1; i < len(args); i += 2 {
		field, raw := args[i], args[i+1]
		var dst *float64
		switch field {
		case "input":
			dst = &p.Input
		case "output":
			dst = &p.Output
		case "cached_input":
			dst = &p.CachedInput
		default:
			return nil, d.Errf("unknown price field '%s': use input, output or cached_input", field)
		}
		if seen[field] {
			return nil, d.Errf("price %s already specified", field)
		}
		seen[field] = true
		v, err := strconv.ParseFloat(strings.TrimPrefix(raw, "$"), 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return nil, d.Errf("invalid price %s '%s': use USD per million tokens, e.g. 0.15", field, raw)
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, d.Errf("price %s '%s': must be a finite number of USD per million tokens, e.g. 0.15", field, raw)
		case v < 0:
			return nil, d.Errf("price %s '%s': must not be negative", field, raw)
		}
		*dst = v
	}
	if !seen["input"] || !seen["output"] {
		return nil, d.Err("price needs both input and output")
	}
	return p, nil
}

func unmarshalRateLimit(d *caddyfile.Dispenser) (*RateLimit, error) {
	rl := new(RateLimit)
	if !d.Args(&rl.Name) {
		return nil, d.Err("rate_limit needs a name: rate_limit <name> { ... }")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionSet("match")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		sub := d.Val()
		switch sub {
		case "key":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			rl.Key = strings.Join(args, " ")
		case "requests", "tokens":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			r, err := ratelimit.ParseRate(v)
			if err != nil {
				return nil, d.Errf("rate_limit %s: %s: %v", rl.Name, sub, err)
			}
			if sub == "requests" {
				rl.Requests = r
			} else {
				rl.Tokens = r
			}
		case "budget":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			b, err := ratelimit.ParseBudget(v)
			if err != nil {
				return nil, d.Errf("rate_limit %s: budget: %v", rl.Name, err)
			}
			rl.Budget = b
		case "match":
			args := d.RemainingArgs()
			if len(args) < 2 || args[0] != "model" {
				return nil, d.Err("match model <glob...>")
			}
			rl.MatchModels = append(rl.MatchModels, args[1:]...)
		default:
			return nil, d.Errf("unrecognized rate_limit subdirective '%s'", sub)
		}
	}
	if err := rl.Rule.Validate(); err != nil {
		return nil, d.Err(err.Error())
	}
	return rl, nil
}

// unmarshalStore parses a rate_limit_store block. top is the handler's option set: on_store_error is one
// setting whether given at the top level or here.
func unmarshalStore(d *caddyfile.Dispenser, top *optionSet) (*RateLimitStore, error) {
	st := new(RateLimitStore)
	if !d.Args(&st.Type) {
		return nil, d.ArgErr()
	}
	if st.Type != "memory" && st.Type != "redis" {
		return nil, d.Errf("rate_limit_store '%s': use memory or redis", st.Type)
	}
	opts := newOptionSet()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := opts.see(d); err != nil {
			return nil, err
		}
		sub := d.Val()
		if sub == "on_store_error" {
			if err := top.see(d); err != nil {
				return nil, err
			}
		} else if st.Type != "redis" && slices.Contains([]string{"address", "username", "password", "prefix", "db"}, sub) {
			return nil, d.Errf("%s is only for rate_limit_store redis", sub)
		}
		switch sub {
		case "address", "username", "password", "prefix", "on_store_error":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			switch sub {
			case "address":
				st.Address = v
			case "username":
				st.Username = v
			case "password":
				st.Password = v
			case "prefix":
				st.Prefix = v
			case "on_store_error":
				if v != "allow" && v != "deny" {
					return nil, d.Errf("on_store_error '%s': use allow or deny", v)
				}
				st.OnStoreError = v
			}
		case "db":
			n, err := intArg(d, 0)
			if err != nil {
				return nil, err
			}
			st.DB = n
		default:
			return nil, d.Errf("unrecognized rate_limit_store subdirective '%s'", sub)
		}
	}
	return st, nil
}

// optionSet records the options given in one Caddyfile block, so that an option that takes one value and
// is given twice is an adapt error instead of silently keeping the last value. The options named
// repeatable (lists, and blocks told apart by name) may appear any number of times.
type optionSet struct {
	repeatable []string
	// first maps an option to the file:line of its first use.
	first map[string]string
}

func newOptionSet(repeatable ...string) *optionSet {
	return &optionSet{repeatable: repeatable, first: make(map[string]string)}
}

// see records the option the dispenser is on; a second use of a single-valued option is an error naming
// both places.
func (o *optionSet) see(d *caddyfile.Dispenser) error {
	name := d.Val()
	if slices.Contains(o.repeatable, name) {
		return nil
	}
	if at, dup := o.first[name]; dup {
		return d.Errf("%s already specified at %s: give it once", name, at)
	}
	o.first[name] = d.File() + ":" + strconv.Itoa(d.Line())
	return nil
}

// intArg reads the option's one whole-number argument, at least least (0 or 1).
func intArg(d *caddyfile.Dispenser, least int) (int, error) {
	name := d.Val()
	var v string
	if !d.AllArgs(&v) {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return 0, d.Errf("invalid %s '%s': use a whole number", name, v)
	case n < least && least > 0:
		return 0, d.Errf("invalid %s '%s': must be positive (omit it for the default)", name, v)
	case n < least:
		return 0, d.Errf("invalid %s '%s': must not be negative", name, v)
	}
	return n, nil
}

// durationArg reads the option's one duration argument, which must be positive: zero and negative values
// would silently mean the default.
func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	var v string
	if !d.AllArgs(&v) {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return 0, d.Errf("invalid %s '%s': %v", name, v, err)
	}
	if dur <= 0 {
		return 0, d.Errf("invalid %s '%s': must be positive (omit it for the default)", name, v)
	}
	return caddy.Duration(dur), nil
}

// policyArg reads a selection policy's name.
func policyArg(d *caddyfile.Dispenser) (string, error) {
	var v string
	if !d.AllArgs(&v) {
		return "", d.ArgErr()
	}
	switch router.Policy(v) {
	case router.PolicyWeighted, router.PolicyRoundRobin, router.PolicyLeastBusy, router.PolicyLowestLatency:
		return v, nil
	}
	return "", d.Errf("unknown policy '%s': use weighted, round_robin, least_busy or lowest_latency", v)
}

func parseOnOff(d *caddyfile.Dispenser, v string) (bool, error) {
	switch v {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, d.Errf("'%s': use on or off", v)
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
