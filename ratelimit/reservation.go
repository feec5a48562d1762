package ratelimit

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Kind names the kind of limit that refused a request.
type Kind uint8

const (
	// KindRequests is a requests-per-window rate.
	KindRequests Kind = iota + 1
	// KindTokens is a tokens-per-window rate.
	KindTokens
	// KindBudget is a spend budget.
	KindBudget
	// KindStoreUnavailable is a store failure under DenyOnStoreError.
	KindStoreUnavailable
	// KindInvalid is a claim naming an unknown rule: a bug in the caller's configuration.
	KindInvalid
	// KindImages is an images-per-window rate.
	KindImages
)

// String returns requests, tokens, budget, store_unavailable or invalid.
func (k Kind) String() string {
	switch k {
	case KindRequests:
		return "requests"
	case KindTokens:
		return "tokens"
	case KindBudget:
		return "budget"
	case KindStoreUnavailable:
		return "store_unavailable"
	case KindInvalid:
		return "invalid"
	case KindImages:
		return "images"
	}
	return ""
}

// Reservation is what Reserve took for one request. End every allowed Reservation with Settle once the usage
// is known, or with Cancel when the request never reached the upstream. A Reservation is a value to keep in
// the request's state; do not copy it after Reserve (each copy would settle separately).
type Reservation struct {
	lim     *Limiter
	b       batch
	allowed bool
	// untaken marks a request allowed because the store failed: nothing was charged at Reserve.
	untaken bool
	kind    Kind
	denied  int
	// done is set (0 to 1) by the first Settle or Cancel.
	done uint32
}

// Allowed reports whether the request may proceed.
func (r *Reservation) Allowed() bool { return r.allowed }

// Settle ends an allowed reservation with the request's real usage: the token rates are corrected from the
// reserved estimate to actualTokens (unused tokens are given back, extra ones charged, which may leave the key
// over its limit until the window drains them), and the budgets' reserved worst-case cost is replaced by
// costUSD. Spend is counted in the period the request is settled in: a reservation made in a period that has
// since ended is not given back to the new one. A negative actualTokens means the usage is unknown and keeps
// the estimate. Settle after Settle or Cancel does nothing; an error is a *StoreError. ctx may be the
// request's context: its cancellation is ignored (its values are kept), so usage is recorded even when the
// client has disconnected.
func (r *Reservation) Settle(ctx context.Context, actualTokens int, costUSD float64) error {
	if !r.allowed || r.b.n == 0 || !atomic.CompareAndSwapUint32(&r.done, 0, 1) {
		return nil
	}
	var reqDelta float64
	if r.untaken {
		reqDelta = 1
	}
	r.b.setTime(r.lim.now())
	spend := usdToNano(costUSD)
	for i := 0; i < r.b.n; i++ {
		o := r.b.at(i)
		o.reqDelta, o.tokDelta, o.spendDelta = reqDelta, 0, 0
		if actualTokens >= 0 && !o.rule.tok.IsZero() && !o.rule.countsImages {
			reserved := o.tokens
			if r.untaken {
				reserved = 0
			}
			o.tokDelta = float64(int64(actualTokens) - reserved)
		}
		if o.rule.budgetNano > 0 {
			o.spendDelta = spend
			if !r.untaken && o.spendStart == o.periodStart {
				o.spendDelta -= o.spend
			}
		}
	}
	if err := r.lim.adjust(ctx, &r.b); err != nil {
		return &StoreError{Op: "settle", Err: err}
	}
	return nil
}

// Cancel ends an allowed reservation whose request never reached the upstream: the request, its reserved
// tokens and its reserved spend are given back. Cancel after Settle or Cancel does nothing; an error is a
// *StoreError. Like Settle, it ignores ctx's cancellation.
func (r *Reservation) Cancel(ctx context.Context) error {
	if !r.allowed || r.b.n == 0 || !atomic.CompareAndSwapUint32(&r.done, 0, 1) || r.untaken {
		return nil
	}
	r.b.setTime(r.lim.now())
	for i := 0; i < r.b.n; i++ {
		o := r.b.at(i)
		o.reqDelta, o.tokDelta, o.spendDelta = -1, -float64(o.tokens), 0
		if o.rule.budgetNano > 0 && o.spendStart == o.periodStart {
			o.spendDelta = -o.spend
		}
	}
	if err := r.lim.adjust(ctx, &r.b); err != nil {
		return &StoreError{Op: "cancel", Err: err}
	}
	return nil
}

// Denial describes why a request was refused.
type Denial struct {
	// Rule is the name of the rule that refused; empty for KindStoreUnavailable and KindInvalid.
	Rule string
	// Kind is the kind of limit that refused.
	Kind Kind
	// Limit is the rate's limit for KindRequests and KindTokens.
	Limit int64
	// Window is the rate's window for KindRequests and KindTokens.
	Window time.Duration
	// BudgetUSD is the budget for KindBudget.
	BudgetUSD float64
	// SpentUSD is, for KindBudget, the spend of the period: settled, plus reserved by requests in flight.
	SpentUSD float64
	// RequestedUSD is, for KindBudget, the worst-case cost the request asked to reserve.
	RequestedUSD float64
	// Period is the budget's period for KindBudget.
	Period Period
	// Requested is the number of tokens the request asked for, for KindTokens.
	Requested int64
	// TooLarge reports a request asking for more tokens than the limit allows in a whole window, or whose
	// worst-case cost exceeds the whole budget: it can never pass, and the client should not retry it
	// unchanged.
	TooLarge bool
	// RetryAfter is when the same request could pass: when enough of the window has drained, or when the next
	// budget period starts.
	RetryAfter time.Duration
}

// Denial returns why the request was refused; it is the zero Denial for an allowed request.
func (r *Reservation) Denial() Denial {
	if r.allowed {
		return Denial{}
	}
	d := Denial{Kind: r.kind}
	switch r.kind {
	case KindStoreUnavailable:
		d.RetryAfter = time.Second
		return d
	case KindInvalid:
		return d
	}
	o := r.b.at(r.denied)
	d.Rule = o.rule.name
	if r.kind == KindTokens && o.rule.countsImages {
		d.Kind = KindImages
		d.Limit, d.Window, d.Requested = o.rule.tok.Limit, o.rule.tok.Window, o.tokens
		d.TooLarge = o.tokens > d.Limit
		d.RetryAfter = d.Window
		if !d.TooLarge {
			d.RetryAfter = drainTime(o.tokLevel+float64(o.tokens)-float64(d.Limit), o.rule.tok)
		}
		return d
	}
	switch r.kind {
	case KindRequests:
		d.Limit, d.Window = o.rule.req.Limit, o.rule.req.Window
		d.RetryAfter = drainTime(o.reqLevel+1-float64(d.Limit), o.rule.req)
	case KindTokens:
		d.Limit, d.Window, d.Requested = o.rule.tok.Limit, o.rule.tok.Window, o.tokens
		d.TooLarge = o.tokens > d.Limit
		if d.TooLarge {
			d.RetryAfter = d.Window
		} else {
			d.RetryAfter = drainTime(o.tokLevel+float64(o.tokens)-float64(d.Limit), o.rule.tok)
		}
	case KindBudget:
		d.BudgetUSD, d.Period = o.rule.budget.USD, o.rule.budget.Period
		d.SpentUSD, d.RequestedUSD = nanoToUSD(o.spent), nanoToUSD(o.spend)
		d.TooLarge = o.spend > o.rule.budgetNano
		d.RetryAfter = time.Duration(o.periodEnd - r.b.now)
	}
	return d
}

// drainTime returns how long the rate takes to drain units, rounded up to the millisecond.
func drainTime(units float64, r Rate) time.Duration {
	if units <= 0 {
		return 0
	}
	d := time.Duration(math.Ceil(units * float64(r.Window) / float64(r.Limit)))
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// Status returns the HTTP status for the refusal: 429 for limits, 503 when the store is unavailable, 500 for
// an invalid claim.
func (d Denial) Status() int {
	switch d.Kind {
	case KindStoreUnavailable:
		return http.StatusServiceUnavailable
	case KindInvalid:
		return http.StatusInternalServerError
	}
	return http.StatusTooManyRequests
}

// Type returns OpenAI's error type: rate_limit_error for limits and budgets, server_error otherwise.
func (d Denial) Type() string {
	switch d.Kind {
	case KindStoreUnavailable, KindInvalid:
		return "server_error"
	}
	return "rate_limit_error"
}

// Code returns OpenAI's error code: insufficient_quota for a budget, rate_limit_exceeded for a rate.
func (d Denial) Code() string {
	switch d.Kind {
	case KindBudget:
		return "insufficient_quota"
	case KindRequests, KindTokens, KindImages:
		return "rate_limit_exceeded"
	case KindStoreUnavailable:
		return "rate_limit_store_unavailable"
	}
	return ""
}

// Message returns the client-facing error message. It names the rule, never the key.
func (d Denial) Message() string {
	retry := "; retry in " + roundForHumans(d.RetryAfter)
	switch d.Kind {
	case KindRequests:
		return "Rate limit " + strconv.Quote(d.Rule) + " reached: " + strconv.FormatInt(d.Limit, 10) +
			" requests per " + formatWindow(d.Window) + retry + "."
	case KindTokens:
		if d.TooLarge {
			return "Request too large for rate limit " + strconv.Quote(d.Rule) + ": it needs " +
				strconv.FormatInt(d.Requested, 10) + " tokens but the limit is " + strconv.FormatInt(d.Limit, 10) +
				" tokens per " + formatWindow(d.Window) + "; lower max_tokens or n, or shorten the prompt."
		}
		return "Rate limit " + strconv.Quote(d.Rule) + " reached: " + strconv.FormatInt(d.Limit, 10) +
			" tokens per " + formatWindow(d.Window) + " (this request reserves " + strconv.FormatInt(d.Requested, 10) +
			")" + retry + "."
	case KindImages:
		if d.TooLarge {
			return "Request too large for rate limit " + strconv.Quote(d.Rule) + ": it asks for " +
				strconv.FormatInt(d.Requested, 10) + " images but the limit is " + strconv.FormatInt(d.Limit, 10) +
				" images per " + formatWindow(d.Window) + "; lower n."
		}
		return "Rate limit " + strconv.Quote(d.Rule) + " reached: " + strconv.FormatInt(d.Limit, 10) +
			" images per " + formatWindow(d.Window) + " (this request asks for " + strconv.FormatInt(d.Requested, 10) +
			")" + retry + "."
	case KindBudget:
		budget := formatUSD(d.BudgetUSD) + " USD per " + periodName(d.Period)
		switch {
		case d.TooLarge:
			return "Request too large for budget " + strconv.Quote(d.Rule) + ": it may cost up to " +
				formatUSD(d.RequestedUSD) + " USD (its prompt and n × max_tokens at the model's price) but the budget is " +
				budget + "; lower max_tokens or n, or shorten the prompt."
		case d.SpentUSD >= d.BudgetUSD:
			return "Budget " + strconv.Quote(d.Rule) + " of " + budget + " is spent; it renews at the start of the next " +
				periodName(d.Period) + " (UTC)" + retry + "."
		}
		return "Budget " + strconv.Quote(d.Rule) + " of " + budget + " cannot cover this request: " + formatUSD(d.SpentUSD) +
			" USD is spent or reserved by requests in progress, and this request may cost up to " +
			formatUSD(d.RequestedUSD) + " USD (its prompt and n × max_tokens at the model's price). Lower max_tokens, " +
			"or retry when requests in progress finish; the budget renews at the start of the next " +
			periodName(d.Period) + " (UTC)" + retry + "."
	case KindStoreUnavailable:
		return "Rate limits cannot be checked because the rate limit store is unavailable; retry shortly."
	case KindInvalid:
		return "Rate limits are misconfigured on this gateway."
	}
	return ""
}

// formatUSD renders an amount rounded to a millionth of a dollar.
func formatUSD(usd float64) string {
	return strconv.FormatFloat(math.Round(usd*1e6)/1e6, 'f', -1, 64)
}

func nanoToUSD(nano int64) float64 { return float64(nano) / 1e9 }

func periodName(p Period) string {
	switch p {
	case Minute:
		return "minute"
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "period"
}

func roundForHumans(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Second)
	}
	return d.String()
}

// RateHeaders are the numbers behind one trio of OpenAI's x-ratelimit-* headers.
type RateHeaders struct {
	// Present reports whether any claimed rule has this kind of rate.
	Present bool
	// Limit is the rate's limit per window.
	Limit int64
	// Remaining is how many units could still be taken now.
	Remaining int64
	// Reset is how long until the rate is back to its full limit.
	Reset time.Duration
}

// Headers are the numbers for OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers. When
// several claimed rules have a rate of one kind, the one with the fewest units remaining is reported.
type Headers struct {
	// Requests feeds x-ratelimit-{limit,remaining,reset}-requests.
	Requests RateHeaders
	// Tokens feeds x-ratelimit-{limit,remaining,reset}-tokens.
	Tokens RateHeaders
}

// Headers returns the header numbers after the reservation (before it, for a refused request). They are
// absent when the store was not consulted.
func (r *Reservation) Headers() Headers {
	var h Headers
	if r.untaken || r.kind == KindStoreUnavailable || r.kind == KindInvalid {
		return h
	}
	for i := 0; i < r.b.n; i++ {
		o := r.b.at(i)
		if !o.rule.req.IsZero() {
			pick(&h.Requests, o.reqLevel, o.rule.req)
		}
		if !o.rule.tok.IsZero() && !o.rule.countsImages {
			pick(&h.Tokens, o.tokLevel, o.rule.tok)
		}
	}
	return h
}

func pick(h *RateHeaders, level float64, r Rate) {
	remaining := int64(math.Floor(float64(r.Limit) - level + 1e-9))
	remaining = max(remaining, 0)
	reset := drainTime(level, r)
	if h.Present && (remaining > h.Remaining || remaining == h.Remaining && reset <= h.Reset) {
		return
	}
	*h = RateHeaders{Present: true, Limit: r.Limit, Remaining: remaining, Reset: reset}
}

// Each calls set with every header name and value, e.g. ("x-ratelimit-reset-requests", "1.2s"). Resets are Go
// duration strings rounded to the millisecond, as OpenAI sends them.
func (h Headers) Each(set func(name, value string)) {
	each := func(kind string, r RateHeaders) {
		if !r.Present {
			return
		}
		set("x-ratelimit-limit-"+kind, strconv.FormatInt(r.Limit, 10))
		set("x-ratelimit-remaining-"+kind, strconv.FormatInt(r.Remaining, 10))
		set("x-ratelimit-reset-"+kind, r.Reset.Round(time.Millisecond).String())
	}
	each("requests", h.Requests)
	each("tokens", h.Tokens)
}
