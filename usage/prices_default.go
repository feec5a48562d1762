package usage

import "math"

// defaultPrices is the embedded price list, USD per million tokens, for current OpenAI, Anthropic and Gemini
// chat models, matched on any provider name ("*/"). Source: the providers' public pricing pages
// (platform.openai.com/docs/pricing, docs.anthropic.com/en/docs/about-claude/pricing,
// ai.google.dev/gemini-api/docs/pricing), standard tier, as published in December 2025; re-checked against
// third-party summaries dated March–June 2026. Anthropic's 1-hour cache write prices and long-context tier were
// added on 2026-12-02 from the pricing page as stored then (platform.claude.com/docs/en/about-claude/pricing),
// the Gemini long-context tiers from Google's pricing page figures as third-party summaries quote them. Models are named precisely so that a newer model stays unpriced (cost 0, found false) rather
// than priced wrongly: operators price anything else with `price` rules, which take precedence.
var defaultPrices = [...]PriceRule{
	// OpenAI
	{"*/gpt-4o-mini*", Price{Input: 0.15, CachedInput: 0.075, Output: 0.60}},
	{"*/gpt-4o", Price{Input: 2.50, CachedInput: 1.25, Output: 10}},
	{"*/gpt-4o-2024-*", Price{Input: 2.50, CachedInput: 1.25, Output: 10}},
	{"*/gpt-4.1-mini*", Price{Input: 0.40, CachedInput: 0.10, Output: 1.60}},
	{"*/gpt-4.1-nano*", Price{Input: 0.10, CachedInput: 0.025, Output: 0.40}},
	{"*/gpt-4.1", Price{Input: 2, CachedInput: 0.50, Output: 8}},
	{"*/gpt-4.1-20*", Price{Input: 2, CachedInput: 0.50, Output: 8}},
	{"*/gpt-5-mini*", Price{Input: 0.25, CachedInput: 0.025, Output: 2}},
	{"*/gpt-5-nano*", Price{Input: 0.05, CachedInput: 0.005, Output: 0.40}},
	{"*/gpt-5", Price{Input: 1.25, CachedInput: 0.125, Output: 10}},
	{"*/gpt-5-20*", Price{Input: 1.25, CachedInput: 0.125, Output: 10}},
	{"*/gpt-5.1", Price{Input: 1.25, CachedInput: 0.125, Output: 10}},
	{"*/gpt-5.1-20*", Price{Input: 1.25, CachedInput: 0.125, Output: 10}},
	{"*/o4-mini*", Price{Input: 1.10, CachedInput: 0.275, Output: 4.40}},
	{"*/o3-mini*", Price{Input: 1.10, CachedInput: 0.55, Output: 4.40}},
	{"*/o3", Price{Input: 2, CachedInput: 0.50, Output: 8}},
	{"*/o3-20*", Price{Input: 2, CachedInput: 0.50, Output: 8}},
	{"*/o1", Price{Input: 15, CachedInput: 7.50, Output: 60}},
	{"*/o1-20*", Price{Input: 15, CachedInput: 7.50, Output: 60}},
	{"*/gpt-4-turbo*", Price{Input: 10, Output: 30}},
	{"*/gpt-4", Price{Input: 30, Output: 60}},
	{"*/gpt-4-0*", Price{Input: 30, Output: 60}},
	{"*/gpt-3.5-turbo*", Price{Input: 0.50, Output: 1.50}},
	// OpenAI embeddings (input only): same pricing page; figures as in pydantic/genai-prices @ 47df840
	// (2026-08-21), prices/providers/openai.yml.
	{"*/text-embedding-3-small", Price{Input: 0.02}},
	{"*/text-embedding-3-large", Price{Input: 0.13}},
	{"*/text-embedding-ada-002", Price{Input: 0.10}},

	// Anthropic: cache reads 0.1× input, 5-minute cache writes 1.25×, 1-hour cache writes 2× (pricing page,
	// "Model pricing" table). Claude Sonnet 4 and 4.5 with the 1M-token context window
	// bill a whole request whose prompt (input, cache reads and writes together) exceeds 200k tokens at $6
	// input and $22.50 output, the cache multipliers applying on top ("Long context pricing", same page).
	// The same names on Vertex AI (claude-sonnet-4-5@20250929) match: its global endpoint lists the same
	// prices; its regional endpoints (10% more from the 4.5 models on) are not in this table, since the
	// location is the provider's, not the model name's. Bedrock's model ids follow below.
	{"*/claude-opus-4-5*", opus45},
	{"*/claude-opus-4-1*", Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}},
	{"*/claude-opus-4-0", Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}},
	{"*/claude-opus-4-2025*", Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}},
	{"*/claude-opus-4@*", Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}},
	{"*/claude-3-opus*", Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}},
	{"*/claude-sonnet-4-5*", sonnet4},
	{"*/claude-sonnet-4-0", sonnet4},
	{"*/claude-sonnet-4-2025*", sonnet4},
	{"*/claude-sonnet-4@*", sonnet4},
	{"*/claude-3-7-sonnet*", Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, CacheWrite1h: 6, Output: 15}},
	{"*/claude-3-5-sonnet*", Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, CacheWrite1h: 6, Output: 15}},
	{"*/claude-haiku-4-5*", haiku45},
	{"*/claude-3-5-haiku*", Price{Input: 0.80, CachedInput: 0.08, CacheWrite: 1, CacheWrite1h: 1.6, Output: 4}},
	{"*/claude-3-haiku*", Price{Input: 0.25, CachedInput: 0.03, CacheWrite: 0.30, CacheWrite1h: 0.50, Output: 1.25}},

	// Claude on Amazon Bedrock, by model id, system inference profile (us., eu., apac., global., …) or the ARN
	// of either. Bedrock bills Claude at Anthropic's prices, cache reads and 5-minute/1-hour writes included
	// (1-hour cache writes: CachePointBlock ttl "1h", API reference as stored 2026-12-02); from the 4.5
	// models on, only the global profile does: geographic profiles and in-Region ids cost 10% more (AWS's
	// and Anthropic's pricing pages as summarized by third parties in 2026: clauder-navi.com/en/bedrock-claude-cost,
	// sam.mehdi.consulting/posts/saving-money-on-bedrock-is-hard; checked 2026-12-02). Application inference
	// profiles and provisioned models have opaque ARNs: price them with `price` rules.
	{"*/global.anthropic.claude-sonnet-4-5*", sonnet4},
	{"*/*anthropic.claude-sonnet-4-5*", bedrockRegional(sonnet4)},
	{"*/global.anthropic.claude-haiku-4-5*", haiku45},
	{"*/*anthropic.claude-haiku-4-5*", bedrockRegional(haiku45)},
	{"*/global.anthropic.claude-opus-4-5*", opus45},
	{"*/*anthropic.claude-opus-4-5*", bedrockRegional(opus45)},
	{"*/*anthropic.claude-sonnet-4-2025*", sonnet4},
	{"*/*anthropic.claude-opus-4-1*", opus4},
	{"*/*anthropic.claude-opus-4-2025*", opus4},
	{"*/arn:*/global.anthropic.claude-sonnet-4-5*", sonnet4},
	{"*/arn:*/*anthropic.claude-sonnet-4-5*", bedrockRegional(sonnet4)},
	{"*/arn:*/global.anthropic.claude-haiku-4-5*", haiku45},
	{"*/arn:*/*anthropic.claude-haiku-4-5*", bedrockRegional(haiku45)},
	{"*/arn:*/global.anthropic.claude-opus-4-5*", opus45},
	{"*/arn:*/*anthropic.claude-opus-4-5*", bedrockRegional(opus45)},
	{"*/arn:*/*anthropic.claude-sonnet-4-2025*", sonnet4},
	{"*/arn:*/*anthropic.claude-opus-4-1*", opus4},
	{"*/arn:*/*anthropic.claude-opus-4-2025*", opus4},

	// Google Gemini. Gemini 2.5 Pro and Gemini 3 Pro bill a whole request whose prompt exceeds 200k tokens at
	// their long-context prices (ai.google.dev/gemini-api/docs/pricing: input, output and context caching).
	{"*/gemini-3-pro-preview*", Price{Input: 2, CachedInput: 0.20, Output: 12,
		LongContext: &LongContextPrice{Above: 200_000, Input: 4, CachedInput: 0.40, Output: 18}}},
	{"*/gemini-2.5-pro*", Price{Input: 1.25, CachedInput: 0.125, Output: 10,
		LongContext: &LongContextPrice{Above: 200_000, Input: 2.50, CachedInput: 0.25, Output: 15}}},
	{"*/gemini-2.5-flash-lite*", Price{Input: 0.10, CachedInput: 0.01, Output: 0.40}},
	{"*/gemini-2.5-flash", Price{Input: 0.30, CachedInput: 0.03, Output: 2.50}},
	{"*/gemini-2.5-flash-preview*", Price{Input: 0.30, CachedInput: 0.03, Output: 2.50}},
	{"*/gemini-2.0-flash-lite*", Price{Input: 0.075, Output: 0.30}},
	{"*/gemini-2.0-flash*", Price{Input: 0.10, CachedInput: 0.025, Output: 0.40}},
	// Gemini embeddings (input only): same pricing page, as transcribed 2026-09-20, and pydantic/genai-prices
	// @ 47df840, prices/providers/google.yml.
	{"*/gemini-embedding-001", Price{Input: 0.15}},
}

// sonnet4 is Claude Sonnet 4 and 4.5, whose 1M-token context window has a long-context tier above 200k prompt
// tokens.
var sonnet4 = Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, CacheWrite1h: 6, Output: 15,
	LongContext: &LongContextPrice{Above: 200_000, Input: 6, CachedInput: 0.60, CacheWrite: 7.50, CacheWrite1h: 12, Output: 22.50}}

// opus45, haiku45 and opus4 are Claude Opus 4.5, Haiku 4.5 and Opus 4/4.1 at Anthropic's prices.
var (
	opus45  = Price{Input: 5, CachedInput: 0.50, CacheWrite: 6.25, CacheWrite1h: 10, Output: 25}
	haiku45 = Price{Input: 1, CachedInput: 0.10, CacheWrite: 1.25, CacheWrite1h: 2, Output: 5}
	opus4   = Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, CacheWrite1h: 30, Output: 75}
)

// bedrockRegional is p with Bedrock's 10% premium of geographic and in-Region endpoints over the global one,
// on every token price (long-context tier included).
func bedrockRegional(p Price) Price {
	up := func(v float64) float64 { return math.Round(v*1.1*1e6) / 1e6 }
	p.Input, p.CachedInput, p.CacheWrite, p.CacheWrite1h, p.Output = up(p.Input), up(p.CachedInput), up(p.CacheWrite), up(p.CacheWrite1h), up(p.Output)
	if lc := p.LongContext; lc != nil {
		c := *lc
		c.Input, c.CachedInput, c.CacheWrite, c.CacheWrite1h, c.Output = up(c.Input), up(c.CachedInput), up(c.CacheWrite), up(c.CacheWrite1h), up(c.Output)
		p.LongContext = &c
	}
	return p
}
