package gateway

import (
	"net/http"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// keyAllows refuses a virtual key's request none of whose targets ("provider/model" after alias and route
// resolution, fallbacks included) the key may reach; tryTargets skips the targets it may not.
func (g *Gateway) keyAllows(x *exchange) *transform.Error {
	if x.vkey == nil || len(x.vkey.Models) == 0 {
		return nil
	}
	allowed := false
	g.eachTarget(x.req, func(t router.Target) bool {
		allowed = x.vkey.Allows(t.String())
		return !allowed
	})
	if allowed {
		return nil
	}
	return modelNotAllowed(x)
}

func modelNotAllowed(x *exchange) *transform.Error {
	e := transform.NewError(http.StatusForbidden, "invalid_request_error", "model_not_allowed",
		"this API key may not use model '"+x.req.model+"': ask the gateway's administrator to allow it")
	e.Param = "model"
	return e
}

// reserveKey charges the virtual key's own limits (requests, tokens, budget) before any upstream is
// contacted, with the same estimate and worst-case cost as rate_limit rules, in the key store's counters.
func (g *Gateway) reserveKey(w http.ResponseWriter, r *http.Request, x *exchange) *transform.Error {
	if x.vkey == nil {
		return nil
	}
	claim, ok := g.cfg.Keys.Claim(x.vkey)
	if !ok {
		return nil
	}
	lim := g.cfg.Keys.Limiter()
	claims := []ratelimit.Claim{claim}
	tokens, spend := lim.Counts(claim)
	if tokens {
		claims[0].Tokens = g.tokenEstimate(x)
	}
	if spend {
		claims[0].CostUSD = g.worstCost(x, "")
	}
	res, err := lim.Reserve(r.Context(), claims)
	x.keyLimit = &res
	g.storeError(err)
	if x.keyLimit.Allowed() {
		return nil
	}
	x.keyLimit.Headers().Each(w.Header().Set)
	return denialError(x.keyLimit.Denial())
}

// settleKey ends the virtual key's reservation with what the exchange used (or cancels it when no upstream
// was reached) and records the key's usage.
func (g *Gateway) settleKey(r *http.Request, x *exchange) {
	if x.vkey == nil {
		return
	}
	ctx := r.Context()
	if !sent(x.res.Attempts, "") {
		if x.keyLimit != nil {
			g.storeError(x.keyLimit.Cancel(ctx))
		}
		return
	}
	cost := max(x.res.CostUSD, 0)
	if x.keyLimit != nil {
		g.storeError(x.keyLimit.Settle(ctx, x.res.Usage.TotalTokens, cost))
	}
	u := keys.Usage{Requests: 1, PromptTokens: int64(x.res.Usage.PromptTokens),
		CompletionTokens: int64(x.res.Usage.CompletionTokens), CostUSD: cost}
	g.storeError(g.cfg.Keys.Record(ctx, x.vkey, u))
	if g.cfg.OnKeyUsage != nil {
		g.cfg.OnKeyUsage(x.vkey, u)
	}
}
