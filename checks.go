package aigateway

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// checkValues rejects the values of a (JSON) config that would otherwise be silently replaced by a default
// or misread: negative durations, counts and sizes, out-of-range rates and statuses, and prices that are
// negative or not finite. The Caddyfile adapter refuses them at adapt time; this catches JSON configs.
func (h *Handler) checkValues() error {
	if err := notNegative("", count("max_request_body", h.MaxRequestBody), count("max_upload_body", h.MaxUploadBody),
		count("max_output_tokens", int64(h.MaxOutputTokens))); err != nil {
		return err
	}
	for _, pc := range h.Providers {
		if err := notNegative("provider '"+pc.Name+"': ", duration("timeout", pc.Timeout),
			duration("dial_timeout", pc.DialTimeout), duration("response_header_timeout", pc.ResponseHeaderTimeout),
			duration("first_token_timeout", pc.FirstTokenTimeout)); err != nil {
			return err
		}
	}
	if r := h.Retry; r != nil {
		if err := notNegative("retry: ", count("max_attempts", int64(r.MaxAttempts)), duration("base_delay", r.BaseDelay),
			duration("max_delay", r.MaxDelay), duration("max_retry_after", r.MaxRetryAfter),
			duration("deadline", r.Deadline)); err != nil {
			return err
		}
		for _, st := range r.Statuses {
			if st < 100 || st > 599 {
				return fmt.Errorf("retry: status %d is not an HTTP status: use 100 to 599", st)
			}
		}
	}
	if c := h.Cooldown; c != nil {
		if err := notNegative("cooldown: ", count("consecutive_failures", int64(c.ConsecutiveFailures)),
			duration("window", c.Window), count("min_requests", int64(c.MinRequests)),
			duration("duration", c.Duration)); err != nil {
			return err
		}
		if !(c.ErrorRate >= 0 && c.ErrorRate <= 1) {
			return fmt.Errorf("cooldown: error_rate must be between 0 and 1 (got %v): e.g. 0.5 for 50%%", c.ErrorRate)
		}
	}
	for _, p := range h.Prices {
		for _, f := range []struct {
			name string
			usd  float64
		}{{"input", p.Input}, {"output", p.Output}, {"cached_input", p.CachedInput}, {"cache_write", p.CacheWrite},
			{"cache_write_1h", p.CacheWrite1h}} {
			if math.IsNaN(f.usd) || math.IsInf(f.usd, 0) {
				return fmt.Errorf("price '%s': %s must be a finite number of USD per million tokens", p.Model, f.name)
			}
			if f.usd < 0 {
				return fmt.Errorf("price '%s': %s must not be negative (got %v)", p.Model, f.name, f.usd)
			}
		}
	}
	if st := h.RateLimitStore; st != nil {
		if err := notNegative("rate_limit_store: ", count("db", int64(st.DB))); err != nil {
			return err
		}
		switch st.OnStoreError {
		case "", "allow", "deny":
		default:
			return fmt.Errorf("rate_limit_store: on_store_error '%s': use allow or deny", st.OnStoreError)
		}
	}
	return nil
}

// numeric is a named config value and how to show it.
type numeric struct {
	name string
	v    int64
	show string
}

func count(name string, n int64) numeric { return numeric{name, n, strconv.FormatInt(n, 10)} }

func duration(name string, d caddy.Duration) numeric {
	return numeric{name, int64(d), time.Duration(d).String()}
}

// notNegative returns an error naming the first value below zero. In JSON a field is left out (or 0) for
// its default; a negative value would silently mean the default too.
func notNegative(scope string, vals ...numeric) error {
	for _, v := range vals {
		if v.v < 0 {
			return fmt.Errorf("%s%s must not be negative (%s): leave it out or use 0 for the default", scope, v.name, v.show)
		}
	}
	return nil
}
