package gateway

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// promptTokens counts the request's prompt locally, once.
func (g *Gateway) promptTokens(x *exchange, model string) int {
	if x.prompt < 0 {
		x.prompt = x.ep.prompt(g.tokenizer, model, x.req.body)
	}
	return x.prompt
}

// completeUsage fills in usage for a non-streaming answer whose upstream reported none, prices it, and
// returns the body with usage (and usage.cost when configured) in it. A reported usage is kept as the
// upstream sent it.
func (g *Gateway) completeUsage(x *exchange, reported usage.Usage, body []byte) []byte {
	name := x.target
	u := reported
	if !u.Known() {
		completion, reasoning := 0, 0
		if x.ep.completion != nil {
			completion, reasoning = x.ep.completion(g.tokenizer, name, body)
		}
		u = usage.Usage{PromptTokens: g.promptTokens(x, name), CompletionTokens: completion, ReasoningTokens: reasoning,
			Origin: g.tokenizer.Origin(name)}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		switch x.ep.usage {
		case usageFull:
			body, _ = sjson.SetRawBytes(body, "usage", u.AppendJSON(nil, -1))
		case usagePromptOnly:
			body, _ = sjson.SetRawBytes(body, "usage", appendPromptUsage(nil, u))
		case usageSurface:
			body = x.ep.surface.setUsage(body, u)
		}
	}
	if x.ep.units != nil {
		x.ep.units(x.req, &u)
	}
	x.res.Usage = u
	x.res.CostUSD = g.cost(name, u)
	if g.cfg.ReportCost && x.res.CostUSD >= 0 && x.ep.usage != usageNone {
		body = setUsageCost(body, x.res.CostUSD)
	}
	return body
}

// setUsageCost sets usage.cost in an answer: appended inside its usage object, the rest of the body as it is,
// or through sjson when the object already has a cost (or is not an object).
func setUsageCost(body []byte, cost float64) []byte {
	u := gjson.GetBytes(body, "usage")
	if !u.IsObject() || u.Index <= 0 || strings.Contains(u.Raw, `"cost"`) {
		body, _ = sjson.SetBytes(body, "usage.cost", cost)
		return body
	}
	end := u.Index + len(u.Raw) - 1 // the object's closing brace
	out := make([]byte, 0, len(body)+32)
	out = append(out, body[:end]...)
	if strings.TrimSpace(u.Raw[1:len(u.Raw)-1]) != "" {
		out = append(out, ',')
	}
	out = append(out, `"cost":`...)
	out = strconv.AppendFloat(out, cost, 'f', -1, 64)
	return append(out, body[end:]...)
}

// appendPromptUsage appends the usage object of an answer without completion tokens (embeddings).
func appendPromptUsage(dst []byte, u usage.Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.PromptTokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.TotalTokens), 10)
	return append(dst, '}')
}

// finishStreamUsage decides a stream's usage: the upstream's when it reported one, else the gateway's own
// count of what was relayed (also for streams cut short).
func (g *Gateway) finishStreamUsage(x *exchange, sw *streamWriter, cut bool) {
	name := x.target
	u := sw.usage
	if !u.Known() || (cut && u.CompletionTokens == 0) {
		completion, reasoning := sw.counter.Completion()
		prompt := u.PromptTokens
		if prompt == 0 {
			prompt = g.promptTokens(x, name)
		}
		u = usage.Usage{PromptTokens: prompt, CompletionTokens: completion, ReasoningTokens: reasoning,
			CachedTokens: u.CachedTokens, Origin: g.tokenizer.Origin(name)}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		sw.rawUsage = sw.rawUsage[:0]
	}
	x.res.Usage = u
	x.res.CostUSD = g.cost(name, u)
}

// usageJSON is the usage object for a stream's final usage chunk: the upstream's own bytes when it had them,
// with usage.cost added when configured.
func (g *Gateway) usageJSON(x *exchange, raw []byte) []byte {
	var b []byte
	if len(raw) > 0 {
		b = raw
		if g.cfg.ReportCost && x.res.CostUSD >= 0 {
			b, _ = sjson.SetBytes(b, "cost", x.res.CostUSD)
		}
		return b
	}
	cost := -1.0
	if g.cfg.ReportCost {
		cost = x.res.CostUSD
	}
	return x.res.Usage.AppendJSON(nil, cost)
}

// cost prices u for provider/model; -1 when the price is unknown.
func (g *Gateway) cost(providerModel string, u usage.Usage) float64 {
	usd, ok := g.prices.Cost(providerModel, u)
	if !ok {
		return -1
	}
	return math.Round(usd*1e10) / 1e10 // whole 1e-10 USD: no float noise in bodies and headers
}

// reserve charges the request against the rules that apply to the model the client asked for, before any
// upstream is contacted. It returns the error to send when a limit refuses it.
func (g *Gateway) reserve(w http.ResponseWriter, r *http.Request, x *exchange) *transform.Error {
	if g.cfg.Limiter == nil || g.cfg.Claims == nil {
		return nil
	}
	claims := g.cfg.Claims(r, LimitScope{ClientKey: x.res.ClientKey, Model: x.req.model})
	x.admitted = claims
	if len(claims) == 0 {
		return nil
	}
	g.estimate(x, claims, "")
	var err error
	x.limit, err = g.cfg.Limiter.Reserve(r.Context(), claims)
	if err != nil && g.cfg.OnStoreError != nil {
		g.cfg.OnStoreError(err)
	}
	if x.limit.Allowed() {
		return nil
	}
	x.limit.Headers().Each(w.Header().Set)
	return denialError(x.limit.Denial())
}

// targetLimit is the reservation of the rules that apply to one target ("provider/model") of a request and
// were not claimed at its admission.
type targetLimit struct {
	target string
	res    ratelimit.Reservation
	// refused is the error of a refused reservation.
	refused *transform.Error
}

// reserveTarget charges the rules that apply to the target about to be tried (x.target), and were not claimed at admission, before its
// first attempt; later attempts of the same "provider/model" share that reservation (a target none of
// whose rules remain is asked again, cheaply). It returns the refusal when a limit refuses the target,
// which is then skipped.
func (g *Gateway) reserveTarget(r *http.Request, x *exchange) *transform.Error {
	if g.cfg.Limiter == nil || g.cfg.Claims == nil {
		return nil
	}
	name := x.target
	for _, tl := range x.targetLimits {
		if tl.target == name {
			return tl.refused
		}
	}
	claims := g.cfg.Claims(r, LimitScope{ClientKey: x.res.ClientKey, Model: x.plan.Model(), Target: name})
	claims = slices.DeleteFunc(claims, func(c ratelimit.Claim) bool {
		return slices.ContainsFunc(x.admitted, func(a ratelimit.Claim) bool { return a.Rule == c.Rule })
	})
	if len(claims) == 0 {
		return nil
	}
	tl := &targetLimit{target: name}
	x.targetLimits = append(x.targetLimits, tl)
	g.estimate(x, claims, name)
	var err error
	tl.res, err = g.cfg.Limiter.Reserve(r.Context(), claims)
	if err != nil && g.cfg.OnStoreError != nil {
		g.cfg.OnStoreError(err)
	}
	if !tl.res.Allowed() {
		tl.refused = denialError(tl.res.Denial())
	}
	return tl.refused
}

func denialError(d ratelimit.Denial) *transform.Error {
	return &transform.Error{Status: d.Status(), Type: d.Type(), Code: d.Code(), Message: d.Message(),
		RetryAfter: d.RetryAfter}
}

// estimate fills in the token estimate and the worst-case cost of the claims whose rules need them. The cost
// is at target's price, or, when target is empty, at the price of the most expensive target the request
// may reach.
func (g *Gateway) estimate(x *exchange, claims []ratelimit.Claim, target string) {
	cost := -1.0
	var units usage.Usage
	if x.ep.units != nil {
		x.ep.units(x.req, &units)
	}
	for i := range claims {
		c := &claims[i]
		c.Images = units.Images
		tokens, spend := g.cfg.Limiter.Counts(*c)
		if tokens {
			c.Tokens = g.tokenEstimate(x)
		}
		if spend {
			if cost < 0 {
				cost = g.worstCost(x, target)
			}
			c.CostUSD = cost
		}
	}
}

// tokenEstimate is what a request is expected to use: its prompt, counted locally, and, for an endpoint that
// generates text, n times its max_tokens (or defaultCompletionEstimate).
func (g *Gateway) tokenEstimate(x *exchange) int {
	return g.promptTokens(x, x.req.model) + x.req.n*g.completionEstimate(x)
}

func (g *Gateway) completionEstimate(x *exchange) int {
	if !x.ep.generates {
		return 0
	}
	if x.req.maxTokens == 0 {
		return defaultCompletionEstimate
	}
	return x.req.maxTokens
}

// defaultCompletionEstimate is reserved for each choice's completion when the request sets no max_tokens.
const defaultCompletionEstimate = 1024

// worstCost is the most the request's estimate costs on target, or, when target is empty, on any target of
// the requested model and its fallbacks. 0 when none has a price.
func (g *Gateway) worstCost(x *exchange, target string) float64 {
	if target != "" {
		return g.estimateCost(x, target)
	}
	worst := 0.0
	g.eachTarget(x.req, func(t router.Target) bool {
		worst = max(worst, g.estimateCost(x, t.String()))
		return true
	})
	return worst
}

// estimateCost prices the request's token estimate on providerModel, every prompt token at the dearest of
// the plain, the cache-write and the one-hour cache-write price.
func (g *Gateway) estimateCost(x *exchange, providerModel string) float64 {
	prompt := g.promptTokens(x, x.req.model)
	u := usage.Usage{PromptTokens: prompt, CompletionTokens: x.req.n * g.completionEstimate(x)}
	if x.ep.units != nil { // images, characters and video seconds asked for, priced per unit
		x.ep.units(x.req, &u)
	}
	plain, ok := g.prices.Cost(providerModel, u)
	if !ok {
		return 0
	}
	u.CacheWriteTokens = prompt
	written, _ := g.prices.Cost(providerModel, u)
	u.CacheWrite1hTokens = prompt
	written1h, _ := g.prices.Cost(providerModel, u)
	return max(plain, written, written1h)
}

// settle ends the request's rate-limit reservations. The admission's reservation and the answering
// target's are corrected to what the exchange really used (tokens and cost); the reservations of targets
// that were tried and did not answer keep their request and give back their tokens and spend. A request
// that reached no upstream (none tried, or every attempt failed to connect: transform.KindNotSent) cancels
// its admission's reservation, and a target none of whose attempts was sent cancels its own.
func (g *Gateway) settle(r *http.Request, x *exchange, answered bool) {
	if g.cfg.Limiter == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	cost := max(x.res.CostUSD, 0)
	tokens := x.res.Usage.TotalTokens
	var err error
	if !sent(x.res.Attempts, "") {
		err = x.limit.Cancel(ctx)
	} else {
		err = x.limit.Settle(ctx, tokens, cost)
	}
	g.storeError(err)
	if len(x.targetLimits) == 0 {
		return
	}
	answeredBy := ""
	if answered {
		answeredBy = x.res.Provider + "/" + x.res.UpstreamModel
	}
	for _, tl := range x.targetLimits {
		switch {
		case tl.target == answeredBy:
			g.storeError(tl.res.Settle(ctx, tokens, cost))
		case !sent(x.res.Attempts, tl.target):
			g.storeError(tl.res.Cancel(ctx))
		default:
			g.storeError(tl.res.Settle(ctx, 0, 0))
		}
	}
}

// sent reports whether any attempt (of target, when not empty) reached its upstream.
func sent(attempts []Attempt, target string) bool {
	for _, a := range attempts {
		if (target == "" || a.Target == target) && a.Kind != transform.KindNotSent {
			return true
		}
	}
	return false
}

func (g *Gateway) storeError(err error) {
	if err != nil && g.cfg.OnStoreError != nil {
		g.cfg.OnStoreError(err)
	}
}

// formatCost renders a cost for headers and placeholders.
func formatCost(usd float64) string {
	if usd < 0 {
		return ""
	}
	return strconv.FormatFloat(usd, 'f', -1, 64)
}

// appendCost appends formatCost(usd) to dst.
func appendCost(dst []byte, usd float64) []byte {
	if usd < 0 {
		return dst
	}
	return strconv.AppendFloat(dst, usd, 'f', -1, 64)
}
