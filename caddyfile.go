package aigateway

import (
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
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
//	        models      <model...>              # allow-list; default: any
//	        timeout                 <duration>  # whole exchange; default 10m
//	        dial_timeout            <duration>  # default 10s
//	        response_header_timeout <duration>
//	        forward_metadata
//
//	        # azure only
//	        resource    <name>
//	        deployment  <model> <deployment>    # repeatable
//	        api_version <version>
//	    }
//
//	    # model names
//	    alias         <name> <provider/model>   # repeatable
//	    default_model <provider/model>
//
//	    # limits and access
//	    max_request_body  <size>                # default 4MB
//	    max_output_tokens <n>                   # default 8192
//	    client_keys       <key...>              # e.g. {env.GATEWAY_KEYS}
//	}
//
// Presets (type, or the provider's name when type is omitted) supply the base URL: openai, openrouter, groq,
// mistral, deepseek, together, xai, fireworks, ollama (http://127.0.0.1:11434/v1) and vllm
// (http://127.0.0.1:8000/v1).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
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
			if err != nil || n == 0 {
				return d.Errf("invalid max_request_body '%s': use a size such as 4MB", s)
			}
			h.MaxRequestBody = int64(n)
		case "max_output_tokens":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return d.Errf("invalid max_output_tokens '%s': use a positive integer", s)
			}
			h.MaxOutputTokens = n
		case "client_keys":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.ClientKeys = append(h.ClientKeys, args...)
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
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		switch sub {
		case "type", "base_url", "resource", "api_version":
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
		case "models":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			pc.Models = append(pc.Models, args...)
		case "deployment":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.ArgErr()
			}
			if pc.Deployments == nil {
				pc.Deployments = make(map[string]string)
			}
			pc.Deployments[args[0]] = args[1]
		case "timeout", "dial_timeout", "response_header_timeout":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return nil, d.Errf("invalid %s '%s': %v", sub, v, err)
			}
			switch sub {
			case "timeout":
				pc.Timeout = caddy.Duration(dur)
			case "dial_timeout":
				pc.DialTimeout = caddy.Duration(dur)
			case "response_header_timeout":
				pc.ResponseHeaderTimeout = caddy.Duration(dur)
			}
		case "forward_metadata":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			pc.ForwardMetadata = true
		default:
			return nil, d.Errf("unrecognized provider subdirective '%s'", sub)
		}
	}
	return pc, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
