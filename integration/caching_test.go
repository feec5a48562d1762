package integration

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
)

// TestCachedAnthropicExchangeUsageAndCost replays a real Anthropic answer with prompt cache reads and writes
// (testdata/fixtures/anthropic/messages_cache_read_write.json: input 3, cache writes 418, cache reads 1111,
// output 33 on claude-sonnet-4-5) through the gateway: chat usage reports the cached tokens and the cache
// writes, the cost is what Anthropic's pricing page gives ($3 input, $3.75 5-minute writes, $0.30 hits, $15
// output per million tokens), and the budget is charged that cost.
func TestCachedAnthropicExchangeUsageAndCost(t *testing.T) {
	up := newUpstream(t, replayJSON(t, http.StatusOK, "anthropic/messages_cache_read_write.json"))
	// two exchanges cost 0.0048096 USD; the third one's worst case no longer fits in 0.005 (billed at the
	// full input price, one exchange would cost 0.0051 and the second would be refused)
	s := startGateway(t, providerBlock("anthropic", "anthropic", up.URL)+
		"\t\trate_limit spend {\n\t\t\tbudget 0.005usd/1mo\n\t\t}\n")
	want := (3*3 + 418*3.75 + 1111*0.30 + 33*15) / 1e6
	body := `{"model":"anthropic/claude-sonnet-4-5-20250929","max_tokens":20,"messages":[` +
		`{"role":"system","content":[{"type":"text","text":"Long shared context","cache_control":{"type":"ephemeral"}}]},` +
		`{"role":"user","content":"Explain Python in one sentence."}]}`
	for i := range 2 {
		resp := s.request(context.Background(), "POST", "/v1/chat/completions", body)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, b)
		}
		u := gjson.GetBytes(b, "usage")
		if u.Get("prompt_tokens").Int() != 1532 || u.Get("completion_tokens").Int() != 33 ||
			u.Get("prompt_tokens_details.cached_tokens").Int() != 1111 || u.Get("prompt_tokens_details.cache_creation_input_tokens").Int() != 418 {
			t.Errorf("usage %s", u.Raw)
		}
		if got := u.Get("cost").Float(); math.Abs(got-want) > 1e-9 {
			t.Errorf("usage.cost %v, want %v", got, want)
		}
		if got, err := strconv.ParseFloat(resp.Header.Get("X-AI-Gateway-Cost"), 64); err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("X-AI-Gateway-Cost %q, want %v", resp.Header.Get("X-AI-Gateway-Cost"), want)
		}
	}
	sent := up.last(t).Body
	if cc := gjson.GetBytes(sent, "system.0.cache_control.type").String(); cc != "ephemeral" {
		t.Errorf("cache_control did not reach Anthropic: %s", sent)
	}
	resp := s.request(context.Background(), "POST", "/v1/chat/completions", body)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || gjson.GetBytes(b, "error.code").String() != "insufficient_quota" {
		t.Errorf("third request after spending %v USD of 0.005: %d %s; want 429 insufficient_quota", 2*want, resp.StatusCode, b)
	}
}

// TestCachedAnthropicExchangeOnEverySurface replays the same cached Anthropic answer through the Responses
// API (translated through chat) and the Messages API (passed through): each reports the cache reads (and the
// Messages API the writes) in its own usage fields, and the gateway prices the exchange exactly as on chat.
func TestCachedAnthropicExchangeOnEverySurface(t *testing.T) {
	up := newUpstream(t, replayJSON(t, http.StatusOK, "anthropic/messages_cache_read_write.json"))
	s := startGateway(t, providerBlock("anthropic", "anthropic", up.URL))
	want := (3*3 + 418*3.75 + 1111*0.30 + 33*15) / 1e6
	for _, c := range []struct {
		path, body string
		check      func(u gjson.Result) bool
	}{
		{"/v1/responses", `{"model":"anthropic/claude-sonnet-4-5-20250929","max_output_tokens":20,"store":false,"input":"Explain Python in one sentence."}`,
			func(u gjson.Result) bool {
				return u.Get("input_tokens").Int() == 1532 && u.Get("input_tokens_details.cached_tokens").Int() == 1111 &&
					u.Get("output_tokens").Int() == 33
			}},
		{"/v1/messages", `{"model":"anthropic/claude-sonnet-4-5-20250929","max_tokens":20,"system":[{"type":"text","text":"Long shared context","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Explain Python in one sentence."}]}`,
			func(u gjson.Result) bool {
				return u.Get("input_tokens").Int() == 3 && u.Get("cache_read_input_tokens").Int() == 1111 &&
					u.Get("cache_creation_input_tokens").Int() == 418 && u.Get("output_tokens").Int() == 33
			}},
	} {
		resp := s.request(context.Background(), "POST", c.path, c.body)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, b)
		}
		if u := gjson.GetBytes(b, "usage"); !c.check(u) {
			t.Errorf("%s: usage %s", c.path, u.Raw)
		}
		if got, err := strconv.ParseFloat(resp.Header.Get("X-AI-Gateway-Cost"), 64); err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: X-AI-Gateway-Cost %q, want %v", c.path, resp.Header.Get("X-AI-Gateway-Cost"), want)
		}
	}
}
