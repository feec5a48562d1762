package gateway

import (
	"context"
	"math"
	"net/http"
	"strconv"

	"github.com/tidwall/sjson"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// promptTokens counts the request's prompt locally, once.
func (g *Gateway) promptTokens(x *exchange, model string) int {
	if x.prompt < 0 {
		x.prompt = g.tokenizer.CountPrompt(model, x.req.body)
	}
	return x.prompt
}

// completeUsage fills in usage for a non-streaming answer whose upstream reported none, prices it, and
// returns the body with usage (and usage.cost when configured) in it. A reported usage is kept as the
// upstream sent it.
func (g *Gateway) completeUsage(x *exchange, t router.Target, reported usage.Usage, body []byte) []byte {
	name := t.String()
	u := reported
	if !u.Known() {
		completion, reasoning := g.tokenizer.CountResponse(name, body)
		u = usage.Usage{PromptTokens: g.promptTokens(x, name), CompletionTokens: completion, ReasoningTokens: reasoning,
			Origin: g.tokenizer.Origin(name)}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		body, _ = sjson.SetRawBytes(body, "usage", u.AppendJSON(nil, -1))
	}
	x.res.Usage = u
	x.res.CostUSD = g.cost(name, u)
	if g.cfg.ReportCost && x.res.CostUSD >= 0 {
		body, _ = sjson.SetBytes(body, "usage.cost", x.res.CostUSD)
	}
	return body
}

// finishStreamUsage decides a stream's usage: the upstream's when it reported one, else the gateway's own
// count of what was relayed (also for streams cut short).
func (g *Gateway) finishStreamUsage(x *exchange, t router.Target, sw *streamWriter, cut bool) {
	name := t.String()
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

// reserve charges the request against the rate limits before any upstream is contacted. It returns the error
// to send when a limit refuses it.
func (g *Gateway) reserve(w http.ResponseWriter, r *http.Request, x *exchange) *transform.Error {
	if g.cfg.Limiter == nil || g.cfg.Claims == nil {
		return nil
	}
	claims := g.cfg.Claims(r, x.req.model)
	if len(claims) == 0 {
		return nil
	}
	for i := range claims {
		if g.cfg.Limiter.CountsTokens(claims[i].Rule) {
			claims[i].Tokens = g.tokenEstimate(x)
		}
	}
	var err error
	x.limit, err = g.cfg.Limiter.Reserve(r.Context(), claims)
	if err != nil && g.cfg.OnStoreError != nil {
		g.cfg.OnStoreError(err)
	}
	if x.limit.Allowed() {
		return nil
	}
	d := x.limit.Denial()
	x.limit.Headers().Each(w.Header().Set)
	return &transform.Error{Status: d.Status(), Type: d.Type(), Code: d.Code(), Message: d.Message(), RetryAfter: d.RetryAfter}
}

// tokenEstimate is what a request is expected to use: its prompt, counted locally, and its max_tokens (or
// defaultCompletionEstimate).
func (g *Gateway) tokenEstimate(x *exchange) int {
	if x.req.maxTokens == 0 {
		return g.promptTokens(x, x.req.model) + defaultCompletionEstimate
	}
	return g.promptTokens(x, x.req.model) + x.req.maxTokens
}

// defaultCompletionEstimate is reserved for the completion when the request sets no max_tokens.
const defaultCompletionEstimate = 1024

// settle corrects the rate-limit reservation to what the exchange really used: the request stays counted,
// and its token estimate becomes its real usage (zero when no upstream answered).
func (g *Gateway) settle(r *http.Request, x *exchange) {
	if g.cfg.Limiter == nil {
		return
	}
	cost := x.res.CostUSD
	if cost < 0 {
		cost = 0
	}
	err := x.limit.Settle(context.WithoutCancel(r.Context()), x.res.Usage.TotalTokens, cost)
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
