package usage

import (
	"math"
	"testing"
)

// TestBedrockClaudePrices: Bedrock's Claude ids, inference profiles and their ARNs are priced with cache
// reads and 5-minute and 1-hour writes; the global profile at Anthropic's prices, geographic profiles and
// in-Region ids of the 4.5 models 10% above them; opaque ARNs and other families stay unpriced.
func TestBedrockClaudePrices(t *testing.T) {
	table, err := NewPriceTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	// 10k input, 20k cache reads, 20k 5-minute writes, 10k 1-hour writes, 10k output (below the 200k
	// long-context threshold): 1/100 of the per-million sums below
	u := Usage{PromptTokens: 10_000 + 20_000 + 30_000, CachedTokens: 20_000, CacheWriteTokens: 30_000,
		CacheWrite1hTokens: 10_000, CompletionTokens: 10_000}
	sonnet := 3 + 2*0.30 + 2*3.75 + 6 + 15.0
	for model, want := range map[string]float64{
		"bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0":                                                          sonnet,
		"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0":                                                              sonnet * 1.1,
		"bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0":                                                                 sonnet * 1.1,
		"bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0": sonnet,
		"bedrock/arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0":                     sonnet * 1.1,
		"bedrock/eu.anthropic.claude-haiku-4-5-20251001-v1:0":                                                               (1 + 2*0.10 + 2*1.25 + 2 + 5) * 1.1,
		"bedrock/global.anthropic.claude-opus-4-5-20251101-v1:0":                                                            5 + 2*0.50 + 2*6.25 + 10 + 25,
		"bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0":                                                                sonnet,
		"bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0":                                                                15 + 2*1.50 + 2*18.75 + 30 + 75,
	} {
		got, found := table.Cost(model, u)
		if want /= 100; !found || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: cost %v (found %v), want %v", model, got, found, want)
		}
	}
	for _, model := range []string{"bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
		"bedrock/amazon.nova-pro-v1:0", "bedrock/us.anthropic.claude-sonnet-9-9"} {
		if _, found := table.Lookup(model); found {
			t.Errorf("%s is priced", model)
		}
	}
}
