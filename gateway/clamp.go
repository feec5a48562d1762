package gateway

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// clampOutputTokens lowers the output-token limit of a request on the Messages or Responses API to what the
// gateway allows, instead of refusing it as Chat Completions does: agent clients ask for more than any cap
// (Claude Code sends max_tokens 32000) and cannot be told otherwise. field is the request's top-level limit
// (max_tokens, max_output_tokens) and model the upstream model name, "" before a target is chosen. The limit
// is lowered to max_output_tokens and to the model's own output limit where the gateway knows it
// (modelOutputLimit); a Messages API thinking budget (thinking.budget_tokens) is kept below it, as Anthropic
// requires. It returns the body (unchanged when nothing was lowered), and the limit asked for and the one
// now in the body when it lowered one (0, 0 otherwise), for the request log.
func (g *Gateway) clampOutputTokens(body []byte, field, model string) (out []byte, asked, sent int) {
	limit := g.cfg.MaxOutputTokens
	if m := modelOutputLimit(model); m > 0 && m < limit {
		limit = m
	}
	v := gjson.GetBytes(body, field)
	if v.Type != gjson.Number || v.Int() <= int64(limit) {
		return body, 0, 0
	}
	out, err := sjson.SetBytes(body, field, limit)
	if err != nil {
		return body, 0, 0
	}
	if b := gjson.GetBytes(out, "thinking.budget_tokens"); b.Type == gjson.Number && b.Int() >= int64(limit) {
		out, _ = sjson.SetBytes(out, "thinking.budget_tokens", limit-1)
	}
	return out, int(v.Int()), limit
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
