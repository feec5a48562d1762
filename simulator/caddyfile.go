package simulator

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("ai_simulator", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("ai_simulator", httpcaddyfile.Before, "respond")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var s Handler
	err := s.UnmarshalCaddyfile(h.Dispenser)
	return &s, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	ai_simulator [<matcher>] {
//		# timing
//		latency           <duration>
//		ttft              <duration>
//		tokens_per_second <number>
//
//		# answers
//		completion_tokens <n>
//		chunk_tokens      <n>
//		report_usage      on|off
//		models            <id...>
//		video_render_time <duration>
//		agent
//
//		# faults
//		fail_rate   <0..1>
//		fail_status <code>
//		retry_after <duration>
//		cut_after   <events>
//		burst
//		hang
//		require_key <key>
//	}
//
// Every knob can be overridden per request with the X-Simulator-Fault header (see Config).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("%s specified more than once", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "latency":
			err = parseDurationArg(d, &h.Latency)
		case "ttft":
			err = parseDurationArg(d, &h.TTFT)
		case "retry_after":
			err = parseDurationArg(d, &h.RetryAfter)
		case "video_render_time":
			err = parseDurationArg(d, &h.VideoRenderTime)
		case "tokens_per_second":
			err = parseFloatArg(d, &h.TokensPerSecond)
		case "fail_rate":
			err = parseFloatArg(d, &h.FailRate)
		case "completion_tokens":
			err = parseIntArg(d, &h.CompletionTokens)
		case "chunk_tokens":
			err = parseIntArg(d, &h.ChunkTokens)
		case "fail_status":
			err = parseIntArg(d, &h.FailStatus)
		case "cut_after":
			err = parseIntArg(d, &h.CutAfter)
		case "report_usage":
			if !d.NextArg() {
				return d.ArgErr()
			}
			on, perr := parseOnOff(d.Val())
			if perr != nil || d.Val() == "" {
				return d.Errf("report_usage: want on or off, got '%s'", d.Val())
			}
			h.ReportUsage = &on
			err = noMoreArgs(d)
		case "hang":
			h.Hang = true
			err = noMoreArgs(d)
		case "burst":
			h.Burst = true
			err = noMoreArgs(d)
		case "agent":
			h.Agent = true
			err = noMoreArgs(d)
		case "require_key":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.RequireKey = d.Val()
			err = noMoreArgs(d)
		case "models":
			h.Models = d.RemainingArgs()
			if len(h.Models) == 0 {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective '%s'", name)
		}
		if err != nil {
			return err
		}
	}
	if err := h.Config.Validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

func parseDurationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	v, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return d.Errf("invalid %s duration '%s': %v", name, d.Val(), err)
	}
	*dst = caddy.Duration(v)
	return noMoreArgs(d)
}

func parseFloatArg(d *caddyfile.Dispenser, dst *float64) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	v, err := strconv.ParseFloat(d.Val(), 64)
	if err != nil {
		return d.Errf("invalid %s '%s': want a number", name, d.Val())
	}
	*dst = v
	return noMoreArgs(d)
}

func parseIntArg(d *caddyfile.Dispenser, dst *int) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	v, err := strconv.Atoi(d.Val())
	if err != nil {
		return d.Errf("invalid %s '%s': want an integer", name, d.Val())
	}
	*dst = v
	return noMoreArgs(d)
}

func noMoreArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
