package usage

import (
	"math"
	"testing"
)

func TestPriceTableOperatorRulesWin(t *testing.T) {
	p, err := NewPriceTable([]PriceRule{
		{"openai/gpt-4o*", Price{Input: 1, Output: 2}},
		{"*/llama*", Price{Input: 0.1, Output: 0.2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Price{
		"openai/gpt-4o-mini":                           {Input: 1, Output: 2},                                                       // operator beats default
		"azure/gpt-4o-mini":                            {Input: 0.15, CachedInput: 0.075, Output: 0.60},                             // default
		"ollama/llama3.2":                              {Input: 0.1, Output: 0.2},                                                   // operator glob
		"anthropic/claude-haiku-4-5":                   {Input: 1, CachedInput: 0.10, CacheWrite: 1.25, CacheWrite1h: 2, Output: 5}, // default
		"gemini/gemini-2.5-flash":                      {Input: 0.30, CachedInput: 0.03, Output: 2.50},                              // default
		"gemini/gemini-2.5-flash-lite-preview-09-2025": {Input: 0.10, CachedInput: 0.01, Output: 0.40},                              // longer name first
	} {
		got, ok := p.Lookup(name)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", name, got, ok, want)
		}
	}
	// Unknown and self-hosted models, a name without provider, and a newer model the defaults do not know.
	for _, name := range []string{"vllm/qwen3-8b", "gpt-4o", "openai/gpt-9", "openrouter/openai/gpt-5"} {
		if got, ok := p.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", name, got)
		}
	}
}

func TestPriceTableCost(t *testing.T) {
	p, _ := NewPriceTable(nil)
	// gpt-4o-mini: 1M prompt tokens of which 400k cached, 100k completion:
	// 600k×0.15 + 400k×0.075 + 100k×0.60 per 1M = 0.09 + 0.03 + 0.06.
	usd, ok := p.Cost("openai/gpt-4o-mini", Usage{PromptTokens: 1_000_000, CachedTokens: 400_000, CompletionTokens: 100_000})
	if !ok || math.Abs(usd-0.18) > 1e-12 {
		t.Errorf("cost = %v, %v; want 0.18", usd, ok)
	}
	// Anthropic cache writes: 1000 written at 3.75, 1000 read at 0.30, 1000 plain at 3, 1000 out at 15.
	usd, _ = p.Cost("anthropic/claude-sonnet-4-5-20250929",
		Usage{PromptTokens: 3000, CachedTokens: 1000, CacheWriteTokens: 1000, CompletionTokens: 1000})
	if want := (3.75 + 0.30 + 3 + 15) * 1000 / 1e6; math.Abs(usd-want) > 1e-12 {
		t.Errorf("claude cost = %v, want %v", usd, want)
	}
	if usd, ok := p.Cost("vllm/my-model", Usage{PromptTokens: 10}); ok || usd != 0 {
		t.Errorf("self-hosted cost = %v, %v; want 0, false", usd, ok)
	}
}

func TestNewPriceTableRejectsBadRules(t *testing.T) {
	for _, r := range []PriceRule{{"openai/[gpt", Price{}}, {"openai/*", Price{Input: -1}}} {
		if _, err := NewPriceTable([]PriceRule{r}); err == nil {
			t.Errorf("NewPriceTable(%+v) succeeded, want an error", r)
		}
	}
}

func TestPriceLookupDoesNotAllocate(t *testing.T) {
	p, _ := NewPriceTable([]PriceRule{{"*/llama*", Price{Input: 1}}})
	if n := testing.AllocsPerRun(100, func() { p.Cost("anthropic/claude-3-haiku-20240307", Usage{PromptTokens: 1}) }); n != 0 {
		t.Errorf("Cost allocated %v times, want 0", n)
	}
}

// A prompt above a long-context threshold prices the whole exchange at the tier's prices (Gemini 2.5 Pro:
// $2.50 input, $15 output, $0.25 cached above 200k prompt tokens; Claude Sonnet 4.5: $6, $22.50, cache writes
// $7.50 and hits $0.60); at the threshold the standard prices apply.
func TestPriceLongContext(t *testing.T) {
	tab, _ := NewPriceTable(nil)
	cases := []struct {
		model string
		u     Usage
		want  float64
	}{
		{"google/gemini-2.5-pro", Usage{PromptTokens: 200_000, CompletionTokens: 1000}, (200_000*1.25 + 1000*10) / 1e6},
		{"google/gemini-2.5-pro", Usage{PromptTokens: 200_001, CompletionTokens: 1000, CachedTokens: 100_000}, (100_001*2.50 + 100_000*0.25 + 1000*15) / 1e6},
		{"anthropic/claude-sonnet-4-5-20250929", Usage{PromptTokens: 250_000, CachedTokens: 200_000, CacheWriteTokens: 40_000, CompletionTokens: 2000},
			(10_000*6 + 200_000*0.60 + 40_000*7.50 + 2000*22.50) / 1e6},
		{"vertex/claude-sonnet-4-5@20250929", Usage{PromptTokens: 1000, CompletionTokens: 10}, (1000*3 + 10*15) / 1e6},
		{"anthropic/claude-haiku-4-5", Usage{PromptTokens: 250_000, CompletionTokens: 10}, (250_000*1 + 10*5) / 1e6},
	}
	for _, c := range cases {
		got, ok := tab.Cost(c.model, c.u)
		if !ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s %+v: cost %v, want %v", c.model, c.u, got, c.want)
		}
	}
}
