package gateway

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// clampOutputTokens lowers the output-token limit of a request on the Messages or Responses API to limit,
// instead of refusing it as Chat Completions does: agent clients ask for more than any cap (Claude Code
// sends max_tokens 32000) and cannot be told otherwise. field is the request's top-level limit (max_tokens,
// max_output_tokens). A Messages API thinking budget (thinking.budget_tokens) is kept below the new limit,
// as Anthropic requires. The body is returned unchanged when its limit is within limit, or limit is not
// positive. Callers lower to the gateway's max_output_tokens once per request (recording Result.MaxTokensAsked
// and MaxTokensSent for the request log, see prepareMessages) and to modelOutputLimit of each target.
func clampOutputTokens(body []byte, field string, limit int) []byte {
	if limit <= 0 {
		return body
	}
	v := gjson.GetBytes(body, field)
	if v.Type != gjson.Number || v.Int() <= int64(limit) {
		return body
	}
	out, err := sjson.SetBytes(body, field, limit)
	if err != nil {
		return body
	}
	if b := gjson.GetBytes(out, "thinking.budget_tokens"); b.Type == gjson.Number && b.Int() >= int64(limit) {
		out, _ = sjson.SetBytes(out, "thinking.budget_tokens", limit-1)
	}
	return out
}

// clampOutput lowers the request's output-token limit (field: max_tokens, max_output_tokens) to
// max_output_tokens, recording what the client asked for and what is sent in the Result, which the request
// log line shows. A surface's prepare calls it; its field validation accepts any positive limit and sets
// apiRequest.maxTokens to at most max_output_tokens.
func (g *Gateway) clampOutput(x *exchange, field string) {
	asked := int(gjson.GetBytes(x.req.body, field).Int())
	if asked > g.cfg.MaxOutputTokens {
		x.req.body = clampOutputTokens(x.req.body, field, g.cfg.MaxOutputTokens)
		x.res.MaxTokensAsked, x.res.MaxTokensSent = asked, g.cfg.MaxOutputTokens
	}
}

// modelOutputLimits are the most output tokens some current models produce in one answer (their providers'
// model pages, 2025–2026), by upstream model name prefix, most specific first. Models not listed have no
// known limit: only max_output_tokens applies.
var modelOutputLimits = [...]struct {
	prefix string
	limit  int
}{
	{"gpt-4o", 16384},
	{"gpt-4.1", 32768},
	{"gpt-5", 128000},
	{"o3", 100000},
	{"o4-mini", 100000},
	{"claude-3-5-haiku", 8192},
	{"claude-3-7-sonnet", 64000},
	{"claude-opus-4-1", 32000},
	{"claude-opus-4-0", 32000},
	{"claude-opus-4-2025", 32000},
	{"claude-opus-4-5", 64000},
	{"claude-sonnet-4", 64000},
	{"claude-haiku-4-5", 64000},
	{"gemini-2.0-flash", 8192},
	{"gemini-2.5", 65536},
	{"gemini-3", 65536},
}

// modelOutputLimit returns the known output limit of an upstream model name, 0 when unknown.
func modelOutputLimit(model string) int {
	if model == "" {
		return 0
	}
	for _, m := range modelOutputLimits {
		if strings.HasPrefix(model, m.prefix) {
			return m.limit
		}
	}
	return 0
}
