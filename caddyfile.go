package aigateway

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/aibackend/caddy-ai-gateway/dialects"
	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
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
//	        type        <dialect|preset>        # default: the preset or dialect named like the provider, else openai
//	        base_url    <url>                   # default: the dialect's (preset's)
//	        api_key     <key...>                # e.g. {env.OPENAI_API_KEY}; repeatable
//	        header      <name> <value>          # repeatable
//	        forward_headers <name...>           # client headers sent upstream besides the default allow-list; repeatable
//	        models      <model...>              # allow-list; default: any
//	        policy      weighted|round_robin|least_busy|lowest_latency   # among several api keys; default weighted
//	        timeout                 <duration>  # whole exchange; default 10m
//	        dial_timeout            <duration>  # default 10s
//	        response_header_timeout <duration>
//	        first_token_timeout     <duration>  # streams: wait for the first event; then try the next target
//
//	        # every other line is an option of the dialect the type selects, parsed by its module
//	        # (http.handlers.ai_gateway.dialects.<type>): see the UnmarshalCaddyfile of package dialects' modules
//	    }
//
//	    # model names
//	    alias         <name> <provider/model>   # repeatable; <name> may be a glob: claude-*
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
//	    price <model-glob> input <usd/1M> output <usd/1M> [cached_input <usd/1M>] [cache_write <usd/1M>] [cache_write_1h <usd/1M>]   # repeatable
//	    report_cost on|off                     # default on
//
//	    # limits and access
//	    rate_limit <name> {                    # repeatable
//	        key      <placeholders>            # e.g. {http.ai_gateway.client_key}
//	        requests <n>/<window>              # e.g. 60/1m
//	        tokens   <n>/<window>              # e.g. 200000/1m
//	        images   <n>/<window>              # images generated, e.g. 100/1d
//	        budget   <usd>usd/<period>         # e.g. 25usd/1mo (periods 1m 1h 1d 1mo, calendar UTC)
//	        match    model <glob...>           # e.g. openai/*
//	    }
//	    rate_limit_store memory|redis {
//	        address  <host:port...>            # several: cluster seed nodes, or Sentinels
//	        cluster                            # Redis Cluster
//	        sentinel_master   <name>           # Redis Sentinel: the master's name
//	        sentinel_password <password>
//	        username <user>
//	        password <password>                # e.g. {env.REDIS_PASSWORD}
//	        db       <n>
//	        prefix   <prefix>                  # default aigw:
//	    }
//	    on_store_error allow|deny              # default allow
//	    max_request_body  <size>               # default 4MB
//	    max_upload_body   <size>               # multipart uploads (audio files, image edits), streamed; default 26MiB
//	    max_response_body <size>               # non-streamed upstream answers; default 16MiB
//	    max_event_size    <size>               # one line of an upstream stream; default 1MiB
//	    max_output_tokens <n>                  # default 8192
//	    max_n             <n>                  # largest n (choices per request); default 8
//	    fallthrough                            # pass paths the gateway does not serve to the next handler (default: 404 unknown_url)
//	    client_keys       <key...>             # e.g. {env.GATEWAY_KEYS}
//	    openapi           public|private       # …/openapi.json without a client key; default private
//	    docs              on|off               # the Try it page at …/docs/; default off
//	    virtual_keys {                         # keys managed at run time: …/keys API, …/console/ page
//	        store      memory|redis { ... }    # default memory; redis takes rate_limit_store's options
//	        admin_keys <key...>                # e.g. {env.GATEWAY_ADMIN_KEYS}; manage keys, cannot call models
//	        console                            # serve the management page at …/console/
//	    }
//	}
//
// Every option that takes one value may be given once per block (a repeat is an error); the list options
// (api_key, header, forward_headers, models, deployment, client_keys, statuses, match, target, fallback) add
// up, and provider, route, rate_limit, alias and price are repeated with different names. Durations and
// counts must be positive (omit an option for its default); prices must be finite and not negative.
//
// Each option name is parsed by one entry of a table (handlerOptions, providerOptions, routeOptions, …, and
// each dialect module's own). A provider's type is a dialect module (openai, azure, anthropic, gemini,
// ollama_native, or a third party's), an alias (google for gemini), or a preset of the openai dialect that
// supplies the base URL (dialects.Presets: openai, openrouter, groq, mistral, deepseek, together, xai,
// fireworks, ollama at http://127.0.0.1:11434/v1 and vllm at http://127.0.0.1:8000/v1, both keyless). An
// option the type's dialect does not take is an error.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	b := &handlerBlock{h: h, seen: handlerOptions.Set()}
	return handlerOptions.Parse(d, b, b.seen, "", nil)
}

// handlerBlock is the state of one ai_gateway block being parsed.
type handlerBlock struct {
	h *Handler
	// seen is shared with rate_limit_store, whose on_store_error is the same setting as the top-level one.
	seen *caddyopt.Set
}

// handlerOptions are the options of the ai_gateway block.
var handlerOptions = caddyopt.Table[*handlerBlock]{
	{Name: "provider", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		pc, err := unmarshalProvider(d)
		if err != nil {
			return err
		}
		for _, existing := range b.h.Providers {
			if existing.Name == pc.Name {
				return d.Errf("provider '%s' is defined twice", pc.Name)
			}
		}
		b.h.Providers = append(b.h.Providers, pc)
		return nil
	}},
	{Name: "alias", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.ArgErr()
		}
		if b.h.Aliases == nil {
			b.h.Aliases = make(map[string]string)
		}
		if _, dup := b.h.Aliases[args[0]]; dup {
			return d.Errf("alias '%s' is defined twice", args[0])
		}
		b.h.Aliases[args[0]] = args[1]
		return nil
	}},
	{Name: "default_model", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.DefaultModel, err = caddyopt.String(d)
		return err
	}},
	{Name: "max_request_body", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.MaxRequestBody, err = sizeArg(d, "4MB")
		return err
	}},
	{Name: "max_upload_body", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.MaxUploadBody, err = sizeArg(d, "26MiB")
		return err
	}},
	{Name: "max_response_body", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.MaxResponseBody, err = sizeArg(d, "16MiB")
		return err
	}},
	{Name: "max_event_size", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.MaxEventSize, err = sizeArg(d, "1MiB")
		return err
	}},
	{Name: "max_output_tokens", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.MaxOutputTokens, err = intArg(d, 1)
		return err
	}},
	{Name: "max_n", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		var s string
		if !d.AllArgs(&s) {
			return d.ArgErr()
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return d.Errf("invalid max_n '%s': use a positive integer", s)
		}
		b.h.MaxN = n
		return nil
	}},
	{Name: "fallthrough", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		b.h.Fallthrough = true
		return caddyopt.Flag(d)
	}},
	{Name: "openapi", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		if v != "public" && v != "private" {
			return d.Errf("invalid openapi '%s': use public (no client key needed) or private (the default)", v)
		}
		b.h.OpenAPI = v
		return nil
	}},
	{Name: "docs", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		if v != "on" && v != "off" {
			return d.Errf("invalid docs '%s': use on (serve the Try it page at …/docs/) or off", v)
		}
		b.h.Docs = v == "on"
		return nil
	}},
	{Name: "client_keys", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		b.h.ClientKeys = append(b.h.ClientKeys, args...)
		return nil
	}},
	{Name: "route", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		rt, err := unmarshalRoute(d)
		if err != nil {
			return err
		}
		for _, existing := range b.h.Routes {
			if existing.Name == rt.Name {
				return d.Errf("route '%s' is defined twice", rt.Name)
			}
		}
		b.h.Routes = append(b.h.Routes, rt)
		return nil
	}},
	{Name: "retry", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.Retry, err = unmarshalRetry(d)
		return err
	}},
	{Name: "cooldown", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.Cooldown, err = unmarshalCooldown(d)
		return err
	}},
	{Name: "price", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		p, err := unmarshalPrice(d)
		if err != nil {
			return err
		}
		for _, existing := range b.h.Prices {
			if existing.Model == p.Model {
				return d.Errf("price for '%s' already specified", p.Model)
			}
		}
		b.h.Prices = append(b.h.Prices, p)
		return nil
	}},
	{Name: "report_cost", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		on, err := parseOnOff(d, v)
		if err != nil {
			return err
		}
		b.h.ReportCost = &on
		return nil
	}},
	{Name: "rate_limit", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		rl, err := unmarshalRateLimit(d)
		if err != nil {
			return err
		}
		for _, existing := range b.h.RateLimits {
			if existing.Name == rl.Name {
				return d.Errf("rate_limit '%s' is defined twice", rl.Name)
			}
		}
		b.h.RateLimits = append(b.h.RateLimits, rl)
		return nil
	}},
	{Name: "rate_limit_store", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		// on_store_error may be given at the top level or in this block, but only once: b.seen sees both
		st, err := unmarshalStore(d, b.seen)
		if err != nil {
			return err
		}
		if b.h.RateLimitStore != nil && st.OnStoreError == "" {
			st.OnStoreError = b.h.RateLimitStore.OnStoreError
		}
		b.h.RateLimitStore = st
		return nil
	}},
	{Name: "virtual_keys", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) (err error) {
		b.h.VirtualKeys, err = unmarshalVirtualKeys(d)
		return err
	}},
	{Name: "on_store_error", Parse: func(d *caddyfile.Dispenser, b *handlerBlock) error {
		v, err := onStoreError(d)
		if err != nil {
			return err
		}
		if b.h.RateLimitStore == nil {
			b.h.RateLimitStore = &RateLimitStore{}
		}
		b.h.RateLimitStore.OnStoreError = v
		return nil
	}},
}

// sizeArg reads the option's one size argument, such as 4MB or 16MiB (example), which must be positive.
func sizeArg(d *caddyfile.Dispenser, example string) (int64, error) {
	name := d.Val()
	s, err := caddyopt.String(d)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > math.MaxInt64 {
		return 0, d.Errf("invalid %s '%s': use a size such as %s", name, s, example)
	}
	return int64(n), nil
}

func onStoreError(d *caddyfile.Dispenser) (string, error) {
	v, err := caddyopt.String(d)
	if err != nil {
		return "", err
	}
	if v != "allow" && v != "deny" {
		return "", d.Errf("on_store_error '%s': use allow or deny", v)
	}
	return v, nil
}

// providerBlock is the state of one provider block being parsed: the generic options go to pc, the type
// names the dialect, and the other lines are the dialect's, handed to its module at the end of the block.
type providerBlock struct {
	pc      *ProviderConfig
	typ     string
	typeAt  string
	dialect []caddyfile.Segment
}

// providerOptions are the options every provider has, whatever its dialect.
var providerOptions = caddyopt.Table[*providerBlock]{
	{Name: "type", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.typeAt = d.File() + ":" + strconv.Itoa(d.Line())
		b.typ, err = caddyopt.String(d)
		return err
	}},
	{Name: "base_url", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.BaseURL, err = caddyopt.String(d)
		return err
	}},
	{Name: "api_key", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *providerBlock) error {
		return listArg(d, &b.pc.APIKeys)
	}},
	{Name: "header", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *providerBlock) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.ArgErr()
		}
		if b.pc.Headers == nil {
			b.pc.Headers = make(http.Header)
		}
		b.pc.Headers.Add(args[0], args[1])
		return nil
	}},
	{Name: "forward_headers", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *providerBlock) error {
		return listArg(d, &b.pc.ForwardHeaders)
	}},
	{Name: "models", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *providerBlock) error {
		return listArg(d, &b.pc.Models)
	}},
	{Name: "policy", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.Policy, err = policyArg(d)
		return err
	}},
	{Name: "timeout", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.Timeout, err = durationArg(d)
		return err
	}},
	{Name: "dial_timeout", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.DialTimeout, err = durationArg(d)
		return err
	}},
	{Name: "response_header_timeout", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.ResponseHeaderTimeout, err = durationArg(d)
		return err
	}},
	{Name: "first_token_timeout", Parse: func(d *caddyfile.Dispenser, b *providerBlock) (err error) {
		b.pc.FirstTokenTimeout, err = durationArg(d)
		return err
	}},
}

// listArg appends the option's one or more arguments to list.
func listArg(d *caddyfile.Dispenser, list *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*list = append(*list, args...)
	return nil
}

// unmarshalProvider parses a provider block: the options of providerOptions, and every other line handed
// to the dialect module that type (or the provider's name) selects, which parses and checks its own.
func unmarshalProvider(d *caddyfile.Dispenser) (*ProviderConfig, error) {
	b := &providerBlock{pc: new(ProviderConfig)}
	if !d.Args(&b.pc.Name) {
		return nil, d.Err("provider needs a name: provider <name> { ... }")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	b.typeAt = d.File() + ":" + strconv.Itoa(d.Line())
	err := providerOptions.Parse(d, b, nil, "provider ", func(d *caddyfile.Dispenser) error {
		b.dialect = append(b.dialect, d.NextSegment())
		return nil
	})
	if err != nil {
		return nil, err
	}
	dia, typ, err := dialects.Resolve(b.typ, b.pc.Name)
	if err != nil {
		return nil, fmt.Errorf("provider '%s': %v, at %s", b.pc.Name, err, b.typeAt)
	}
	if err := dialects.Unmarshal(dia, typ, b.dialect); err != nil {
		return nil, err
	}
	b.pc.DialectRaw = dialects.JSON(dia, typ, nil)
	return b.pc, nil
}

func unmarshalRoute(d *caddyfile.Dispenser) (*Route, error) {
	rt := new(Route)
	if !d.Args(&rt.Name) {
		return nil, d.Err("route needs a name: route <name> { target <provider/model> ... }")
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	if err := routeOptions.Parse(d, rt, nil, "route ", nil); err != nil {
		return nil, err
	}
	if len(rt.Tiers) == 0 {
		return nil, d.Errf("route '%s' has no target", rt.Name)
	}
	return rt, nil
}

// routeOptions are the options of a route block.
var routeOptions = caddyopt.Table[*Route]{
	{Name: "target", Repeatable: true, Parse: func(d *caddyfile.Dispenser, rt *Route) error {
		t, err := routeTarget(d)
		if err != nil {
			return err
		}
		if len(rt.Tiers) > 1 {
			return d.Err("target lines must come before fallback lines")
		}
		if len(rt.Tiers) == 0 {
			rt.Tiers = append(rt.Tiers, nil)
		}
		rt.Tiers[0] = append(rt.Tiers[0], t)
		return nil
	}},
	{Name: "fallback", Repeatable: true, Parse: func(d *caddyfile.Dispenser, rt *Route) error {
		t, err := routeTarget(d)
		if err != nil {
			return err
		}
		if len(rt.Tiers) == 0 {
			return d.Err("a route needs at least one target before its fallbacks")
		}
		rt.Tiers = append(rt.Tiers, []RouteTarget{t})
		return nil
	}},
	{Name: "policy", Parse: func(d *caddyfile.Dispenser, rt *Route) (err error) {
		rt.Policy, err = policyArg(d)
		return err
	}},
}

// routeTarget reads a target or fallback line: <provider/model> [weight <n>].
func routeTarget(d *caddyfile.Dispenser) (RouteTarget, error) {
	sub := d.Val()
	args := d.RemainingArgs()
	t := RouteTarget{}
	switch {
	case len(args) == 1:
		t.Model = args[0]
	case len(args) == 3 && args[1] == "weight":
		t.Model = args[0]
		w, err := strconv.Atoi(args[2])
		if err != nil || w < 1 {
			return t, d.Errf("invalid weight '%s': use a positive integer", args[2])
		}
		t.Weight = w
	default:
		return t, d.Errf("%s <provider/model> [weight <n>]", sub)
	}
	return t, nil
}

func unmarshalRetry(d *caddyfile.Dispenser) (*RetryConfig, error) {
	rc := new(RetryConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	return rc, retryOptions.Parse(d, rc, nil, "retry ", nil)
}

// retryOptions are the options of the retry block.
var retryOptions = caddyopt.Table[*RetryConfig]{
	{Name: "statuses", Repeatable: true, Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		for _, a := range args {
			n, err := strconv.Atoi(a)
			if err != nil || n < 100 || n > 599 {
				return d.Errf("invalid status '%s'", a)
			}
			rc.Statuses = append(rc.Statuses, n)
		}
		return nil
	}},
	{Name: "max_attempts", Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) (err error) {
		rc.MaxAttempts, err = intArg(d, 1)
		return err
	}},
	{Name: "base_delay", Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) (err error) {
		rc.BaseDelay, err = durationArg(d)
		return err
	}},
	{Name: "max_delay", Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) (err error) {
		rc.MaxDelay, err = durationArg(d)
		return err
	}},
	{Name: "max_retry_after", Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) (err error) {
		rc.MaxRetryAfter, err = durationArg(d)
		return err
	}},
	{Name: "deadline", Parse: func(d *caddyfile.Dispenser, rc *RetryConfig) (err error) {
		rc.Deadline, err = durationArg(d)
		return err
	}},
}

func unmarshalCooldown(d *caddyfile.Dispenser) (*CooldownConfig, error) {
	cc := new(CooldownConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	return cc, cooldownOptions.Parse(d, cc, nil, "cooldown ", nil)
}

// cooldownOptions are the options of the cooldown block.
var cooldownOptions = caddyopt.Table[*CooldownConfig]{
	{Name: "off", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) error {
		cc.Disabled = true
		return caddyopt.Flag(d)
	}},
	{Name: "consecutive_failures", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) (err error) {
		cc.ConsecutiveFailures, err = intArg(d, 1)
		return err
	}},
	{Name: "min_requests", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) (err error) {
		cc.MinRequests, err = intArg(d, 1)
		return err
	}},
	{Name: "error_rate", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) error {
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || !(pct > 0 && pct <= 100) {
			return d.Errf("invalid error_rate '%s': use a percentage such as 50%%", v)
		}
		cc.ErrorRate = pct / 100
		return nil
	}},
	{Name: "window", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) (err error) {
		cc.Window, err = durationArg(d)
		return err
	}},
	{Name: "duration", Parse: func(d *caddyfile.Dispenser, cc *CooldownConfig) (err error) {
		cc.Duration, err = durationArg(d)
		return err
	}},
}

func unmarshalPrice(d *caddyfile.Dispenser) (*PriceConfig, error) {
	args := d.RemainingArgs()
	if len(args) < 5 || len(args)%2 == 0 {
		return nil, d.Err("price <model-glob> input <usd/1M> output <usd/1M> [cached_input <usd/1M>] [cache_write <usd/1M>] [cache_write_1h <usd/1M>]")
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
		case "cache_write":
			dst = &p.CacheWrite
		case "cache_write_1h":
			dst = &p.CacheWrite1h
		default:
			return nil, d.Errf("unknown price field '%s': use input, output, cached_input, cache_write or cache_write_1h", field)
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
	if err := rateLimitOptions.Parse(d, rl, nil, "rate_limit ", nil); err != nil {
		return nil, err
	}
	if err := rl.Rule.Validate(); err != nil {
		return nil, d.Err(err.Error())
	}
	return rl, nil
}

// rateLimitOptions are the options of a rate_limit block.
var rateLimitOptions = caddyopt.Table[*RateLimit]{
	{Name: "key", Parse: func(d *caddyfile.Dispenser, rl *RateLimit) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		rl.Key = strings.Join(args, " ")
		return nil
	}},
	{Name: "requests", Parse: func(d *caddyfile.Dispenser, rl *RateLimit) (err error) {
		rl.Requests, err = rateArg(d, rl.Name)
		return err
	}},
	{Name: "tokens", Parse: func(d *caddyfile.Dispenser, rl *RateLimit) (err error) {
		rl.Tokens, err = rateArg(d, rl.Name)
		return err
	}},
	{Name: "images", Parse: func(d *caddyfile.Dispenser, rl *RateLimit) (err error) {
		rl.Images, err = rateArg(d, rl.Name)
		return err
	}},
	{Name: "budget", Parse: func(d *caddyfile.Dispenser, rl *RateLimit) error {
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		b, err := ratelimit.ParseBudget(v)
		if err != nil {
			return d.Errf("rate_limit %s: budget: %v", rl.Name, err)
		}
		rl.Budget = b
		return nil
	}},
	{Name: "match", Repeatable: true, Parse: func(d *caddyfile.Dispenser, rl *RateLimit) error {
		args := d.RemainingArgs()
		if len(args) < 2 || args[0] != "model" {
			return d.Err("match model <glob...>")
		}
		rl.MatchModels = append(rl.MatchModels, args[1:]...)
		return nil
	}},
}

// rateArg reads a requests or tokens rate such as 60/1m.
func rateArg(d *caddyfile.Dispenser, name string) (ratelimit.Rate, error) {
	sub := d.Val()
	v, err := caddyopt.String(d)
	if err != nil {
		return ratelimit.Rate{}, err
	}
	r, err := ratelimit.ParseRate(v)
	if err != nil {
		return ratelimit.Rate{}, d.Errf("rate_limit %s: %s: %v", name, sub, err)
	}
	return r, nil
}

// storeBlock is a rate_limit_store block being parsed; top is the handler's record of options, since
// on_store_error is one setting whether given at the top level or here.
type storeBlock struct {
	st  *RateLimitStore
	top *caddyopt.Set
	// what names the block in errors: "rate_limit_store " or "virtual_keys store ".
	what string
}

// unmarshalStore parses a rate_limit_store block.
func unmarshalStore(d *caddyfile.Dispenser, top *caddyopt.Set) (*RateLimitStore, error) {
	st := new(RateLimitStore)
	if !d.Args(&st.Type) {
		return nil, d.ArgErr()
	}
	if st.Type != "memory" && st.Type != "redis" {
		return nil, d.Errf("rate_limit_store '%s': use memory or redis", st.Type)
	}
	return st, storeOptions.Parse(d, &storeBlock{st: st, top: top, what: "rate_limit_store "}, nil, "rate_limit_store ", nil)
}

// redisOption is a rate_limit_store option that only redis takes.
func redisOption(set func(st *RateLimitStore, v string)) func(d *caddyfile.Dispenser, b *storeBlock) error {
	return func(d *caddyfile.Dispenser, b *storeBlock) error {
		if b.st.Type != "redis" {
			return d.Errf("%s is only for %sredis", d.Val(), b.what)
		}
		v, err := caddyopt.String(d)
		if err != nil {
			return err
		}
		set(b.st, v)
		return nil
	}
}

// storeOptions are the options of the rate_limit_store block.
var storeOptions = caddyopt.Table[*storeBlock]{
	{Name: "address", Parse: func(d *caddyfile.Dispenser, b *storeBlock) error {
		if b.st.Type != "redis" {
			return d.Errf("address is only for %sredis", b.what)
		}
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		b.st.Address, b.st.Addresses = args[0], args[1:]
		return nil
	}},
	{Name: "cluster", Parse: func(d *caddyfile.Dispenser, b *storeBlock) error {
		if b.st.Type != "redis" {
			return d.Errf("cluster is only for %sredis", b.what)
		}
		b.st.Cluster = true
		return caddyopt.Flag(d)
	}},
	{Name: "sentinel_master", Parse: redisOption(func(st *RateLimitStore, v string) { st.SentinelMaster = v })},
	{Name: "sentinel_password", Parse: redisOption(func(st *RateLimitStore, v string) { st.SentinelPassword = v })},
	{Name: "username", Parse: redisOption(func(st *RateLimitStore, v string) { st.Username = v })},
	{Name: "password", Parse: redisOption(func(st *RateLimitStore, v string) { st.Password = v })},
	{Name: "prefix", Parse: redisOption(func(st *RateLimitStore, v string) { st.Prefix = v })},
	{Name: "db", Parse: func(d *caddyfile.Dispenser, b *storeBlock) (err error) {
		if b.st.Type != "redis" {
			return d.Errf("db is only for %sredis", b.what)
		}
		b.st.DB, err = intArg(d, 0)
		return err
	}},
	{Name: "on_store_error", Parse: func(d *caddyfile.Dispenser, b *storeBlock) (err error) {
		if b.top != nil {
			if err := b.top.See(d); err != nil {
				return err
			}
		}
		b.st.OnStoreError, err = onStoreError(d)
		return err
	}},
}

// unmarshalVirtualKeys parses a virtual_keys block.
func unmarshalVirtualKeys(d *caddyfile.Dispenser) (*VirtualKeys, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	vk := new(VirtualKeys)
	if err := virtualKeysOptions.Parse(d, vk, nil, "virtual_keys ", nil); err != nil {
		return nil, err
	}
	if len(vk.AdminKeys) == 0 {
		return nil, d.Err("virtual_keys needs admin_keys, the keys that may manage keys: e.g. admin_keys {env.GATEWAY_ADMIN_KEYS}")
	}
	return vk, nil
}

// virtualKeysOptions are the options of the virtual_keys block.
var virtualKeysOptions = caddyopt.Table[*VirtualKeys]{
	{Name: "store", Parse: func(d *caddyfile.Dispenser, vk *VirtualKeys) error {
		st := new(RateLimitStore)
		if !d.Args(&st.Type) {
			return d.ArgErr()
		}
		if st.Type != "memory" && st.Type != "redis" {
			return d.Errf("virtual_keys store '%s': use memory or redis", st.Type)
		}
		vk.Store = st
		return storeOptions.Parse(d, &storeBlock{st: st, what: "virtual_keys store "}, nil, "virtual_keys store ", nil)
	}},
	{Name: "admin_keys", Repeatable: true, Parse: func(d *caddyfile.Dispenser, vk *VirtualKeys) error {
		return listArg(d, &vk.AdminKeys)
	}},
	{Name: "console", Parse: func(d *caddyfile.Dispenser, vk *VirtualKeys) error {
		vk.Console = true
		return caddyopt.Flag(d)
	}},
}

// intArg reads the option's one whole-number argument, at least least (0 or 1).
var intArg = caddyopt.Int

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
