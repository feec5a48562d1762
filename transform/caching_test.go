package transform

import (
	"math"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/usage"
)

// cachedRequest carries Anthropic's cache_control the way OpenRouter and LiteLLM clients send it: on system
// parts, user parts, a whole message, a tool message and a tool.
var cachedRequest = []byte(`{"model":"x","max_tokens":100,"messages":[
 {"role":"system","content":[{"type":"text","text":"You are a contracts lawyer."},{"type":"text","text":"<the whole contract>","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
 {"role":"developer","content":"Answer briefly.","cache_control":{"type":"ephemeral"}},
 {"role":"user","content":[{"type":"text","text":"Clause 7?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="},"cache_control":{"type":"ephemeral"}}]},
 {"role":"assistant","content":[{"type":"text","text":"Checking.","cache_control":{"type":"ephemeral"}}],"tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
 {"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"Clause 7: indemnity.","cache_control":{"type":"ephemeral"}}]},
 {"role":"user","content":"Summarise.","cache_control":{"type":"ephemeral"}}],
 "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}},"cache_control":{"type":"ephemeral"}}]}`)

// Every cache_control marker of an OpenAI-format request lands where Anthropic expects it, on Anthropic and on
// Claude on Vertex AI.
func TestAnthropicCacheControl(t *testing.T) {
	for name, d := range map[string]Dialect{
		"anthropic": NewAnthropic(AnthropicOptions{}),
		"vertex":    NewVertex(VertexOptions{Project: "p", Location: "global"}),
	} {
		out, err := d.BuildRequest(&Request{Body: cachedRequest, Model: "claude-sonnet-4-5"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g := gjson.ParseBytes(out.Body)
		want := map[string]string{
			"system.0.text":                      "You are a contracts lawyer.",
			"system.0.cache_control":             "",
			"system.1.cache_control":             `{"type":"ephemeral","ttl":"1h"}`,
			"system.2.text":                      "Answer briefly.",
			"system.2.cache_control":             `{"type":"ephemeral"}`,
			"messages.0.content.0.cache_control": "",
			"messages.0.content.1.type":          "image",
			"messages.0.content.1.cache_control": `{"type":"ephemeral"}`,
			"messages.1.content.0.text":          "Checking.",
			"messages.1.content.0.cache_control": `{"type":"ephemeral"}`,
			"messages.1.content.1.type":          "tool_use",
			"messages.1.content.1.cache_control": "",
			"messages.2.content.0.type":          "tool_result",
			"messages.2.content.0.cache_control": `{"type":"ephemeral"}`,
			"messages.2.content.1.text":          "Summarise.",
			"messages.2.content.1.cache_control": `{"type":"ephemeral"}`,
			"tools.0.cache_control":              `{"type":"ephemeral"}`,
		}
		for path, v := range want {
			if got := g.Get(path).Raw; got != v && g.Get(path).Str != v {
				t.Errorf("%s: %s = %s, want %s", name, path, got, v)
			}
		}
	}
	// without markers the system prompt stays one string
	out, _ := NewAnthropic(AnthropicOptions{}).BuildRequest(&Request{Model: "m",
		Body: []byte(`{"messages":[{"role":"system","content":"a"},{"role":"user","content":"b"}]}`)})
	if gjson.GetBytes(out.Body, "system").Str != "a" {
		t.Errorf("plain system: %s", out.Body)
	}
}

// The same markers become cachePoint blocks after the marked content on Bedrock.
func TestBedrockCachePoints(t *testing.T) {
	out, err := NewBedrock(BedrockOptions{}).BuildRequest(&Request{Body: cachedRequest, Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
	if err != nil {
		t.Fatal(err)
	}
	g := gjson.ParseBytes(out.Body)
	for path, want := range map[string]string{
		"system.1.text":                        "<the whole contract>",
		"system.2.cachePoint.type":             "default",
		"system.3.text":                        "Answer briefly.",
		"system.4.cachePoint.type":             "default",
		"messages.0.content.1.image.format":    "png",
		"messages.0.content.2.cachePoint.type": "default",
		"messages.1.content.0.text":            "Checking.",
		"messages.1.content.1.cachePoint.type": "default",
		"messages.1.content.2.toolUse.name":    "lookup",
		"messages.2.content.1.cachePoint.type": "default",
		"messages.2.content.2.text":            "Summarise.",
		"messages.2.content.3.cachePoint.type": "default",
		"toolConfig.tools.1.cachePoint.type":   "default",
	} {
		if got := g.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q in %s", path, got, want, out.Body)
		}
	}
}

// A real Anthropic answer with cache reads and writes (testdata/fixtures/anthropic/messages_cache_read_write,
// recorded by pydantic-ai) reports them in chat usage, and costs what Anthropic's pricing page says: Claude
// Sonnet 4.5, $3 per million input tokens, $3.75 for 5-minute cache writes, $0.30 for cache hits, $15 for
// output.
func TestRecordedCachedExchangeCost(t *testing.T) {
	body := readFixture(t, "anthropic/messages_cache_read_write.json")
	out, u, err := NewAnthropic(AnthropicOptions{}).TranslateResponse(&Request{ClientModel: "anthropic/claude-sonnet-4-5-20250929"}, body)
	if err != nil {
		t.Fatal(err)
	}
	if u.PromptTokens != 3+418+1111 || u.CachedTokens != 1111 || u.CacheWriteTokens != 418 || u.CacheWrite1hTokens != 0 || u.CompletionTokens != 33 {
		t.Errorf("usage %+v", u)
	}
	details := gjson.GetBytes(out, "usage.prompt_tokens_details")
	if details.Get("cached_tokens").Int() != 1111 || details.Get("cache_creation_input_tokens").Int() != 418 || gjson.GetBytes(out, "usage.prompt_tokens").Int() != 1532 {
		t.Errorf("chat usage %s", gjson.GetBytes(out, "usage").Raw)
	}
	prices, _ := usage.NewPriceTable(nil)
	got, ok := prices.Cost("anthropic/claude-sonnet-4-5-20250929", u)
	want := (3*3 + 418*3.75 + 1111*0.30 + 33*15) / 1e6
	if !ok || math.Abs(got-want) > 1e-12 {
		t.Errorf("cost %v, want %v (Anthropic's published prices)", got, want)
	}
	// the same exchange written to the 1-hour cache: $6 per million for those writes
	u.CacheWrite1hTokens = 418
	got, _ = prices.Cost("anthropic/claude-sonnet-4-5-20250929", u)
	if want := (3*3 + 418*6 + 1111*0.30 + 33*15) / 1e6; math.Abs(got-want) > 1e-12 {
		t.Errorf("1-hour writes: cost %v, want %v", got, want)
	}
}

// Anthropic's usage split by cache lifetime (cache_creation.ephemeral_1h_input_tokens) is kept.
func TestAnthropicUsageOneHourWrites(t *testing.T) {
	u := anthropicUsage(gjson.Parse(`{"input_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":0,`+
		`"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":2}`), usage.Usage{})
	if u.CacheWriteTokens != 300 || u.CacheWrite1hTokens != 200 || u.PromptTokens != 305 {
		t.Errorf("%+v", u)
	}
}
