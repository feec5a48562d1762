package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// accessLogMsg is the message of the access log's entry for a request: gatewayConfig turns the access log on
// (the log directive), as an operator would, and the gateway's fields are its ai_gateway object.
const accessLogMsg = "handled request"

// gatewayLogMsg is the message of the handler's own line: debug level, or error for a 5xx.
const gatewayLogMsg = "ai gateway request"

// TestUsageForSilentUpstream checks issue 5 end to end: an OpenAI-compatible upstream that reports no usage
// still gives the client usage, streamed or not, equal to what the upstream would have reported, and a stream
// cut by the upstream or abandoned by the client is accounted with what was produced.
func TestUsageForSilentUpstream(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	gw := startCaddy(t, "gateway", gatewayConfig(
		simProvider("reporting", sim, "")+
			simProvider("silent", sim, "report_usage=off")+
			simProvider("cut", sim, "cut_after=5, report_usage=off")+
			simProvider("slow", sim, "tokens_per_second=100, completion_tokens=1000, report_usage=off")))
	c := newClient(t)
	ctx := context.Background()

	t.Run("simulator is silent", func(t *testing.T) {
		// The premise of the test: with report_usage=off the upstream really sends no usage.
		req, _ := http.NewRequest(http.MethodPost, sim.url("/v1/chat/completions"), strings.NewReader(chatBody("gpt-4o-mini", false)))
		req.Header.Set("X-Simulator-Fault", "report_usage=off")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		if resp.StatusCode != 200 || gjson.Get(b.String(), "usage").Exists() {
			t.Fatalf("simulator with report_usage=off: status %d, body %s; want 200 without usage", resp.StatusCode, b.String())
		}
	})

	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "non-streaming", true: "streaming"}[stream]
		t.Run(name, func(t *testing.T) {
			reported := chat(ctx, c, gw, chatBody("reporting/gpt-4o-mini", stream))
			silent := chat(ctx, c, gw, chatBody("silent/gpt-4o-mini", stream))
			estimated := chat(ctx, c, gw, chatBody("silent/llama-3.1-8b-instant", stream))
			for _, a := range []*answer{reported, silent, estimated} {
				if !a.succeeded() {
					t.Fatalf("want a complete 200 answer, got %s", a.describe())
				}
			}
			want, got := usageOf(reported), usageOf(silent)
			if want.PromptTokens == 0 || want.CompletionTokens == 0 {
				t.Fatalf("the reporting upstream's usage is %+v: the test needs non-zero counts; body %s", want, reported.body)
			}
			if got != want {
				t.Errorf("silent upstream: the gateway's usage is %+v, want what the upstream reports for the same "+
					"request: %+v", got, want)
			}
			if u := usageOf(estimated); u.PromptTokens == 0 || u.CompletionTokens == 0 || u.Total != u.PromptTokens+u.CompletionTokens {
				t.Errorf("silent upstream, non-OpenAI model: usage %+v, want non-zero counts that add up", u)
			}
			for _, tc := range []struct {
				a    *answer
				want string
			}{{reported, "reported"}, {silent, "counted"}, {estimated, "estimated"}} {
				if got := usageHeader(tc.a); got != tc.want {
					t.Errorf("X-AI-Gateway-Usage = %q, want %q", got, tc.want)
				}
			}
		})
	}

	t.Run("stream cut by the upstream", func(t *testing.T) {
		a := chat(ctx, c, gw, chatBody("cut/gpt-4o-mini", true))
		if a.err != nil || a.status != http.StatusOK {
			t.Fatalf("want a 200 stream that ends in an error event, got %s", a.describe())
		}
		if a.done || !a.errEv.Exists() {
			t.Errorf("a stream cut by the upstream must end with an error event and no [DONE]; events %q", a.events)
		}
		words := len(strings.Fields(a.content))
		if words == 0 {
			t.Fatalf("the client got no content before the cut; events %q", a.events)
		}
		line := gw.waitLog(accessLogMsg, 1, provider("cut"))[0]
		if got := line.Get("ai_gateway.completion_tokens").Int(); got != int64(words) {
			t.Errorf("log line completion_tokens = %d, want the %d tokens relayed before the cut; line %s", got, words, line.Raw)
		}
		if line.Get("ai_gateway.prompt_tokens").Int() == 0 || line.Get("ai_gateway.usage_origin").Str != "counted" {
			t.Errorf("log line should carry the counted prompt; line %s", line.Raw)
		}
		// A stream the upstream cut is a failure the operator must see: the handler's own line, at error level.
		gw.waitLog(gatewayLogMsg, 1, func(e gjson.Result) bool { return e.Get("provider").Str == "cut" && e.Get("level").Str == "error" })
	})

	t.Run("client disconnects mid-stream", func(t *testing.T) {
		words := readThenDisconnect(t, c, gw, chatBody("slow/gpt-4o-mini", true), 5)
		line := gw.waitLog(accessLogMsg, 1, provider("slow"))[0]
		got := line.Get("ai_gateway.completion_tokens").Int()
		if got < int64(words) || got >= 1000 {
			t.Errorf("log line completion_tokens = %d, want the partial count: at least the %d tokens the client "+
				"read and fewer than the 1000 of the whole answer; line %s", got, words, line.Raw)
		}
		if outcome := line.Get("ai_gateway.attempts.0.outcome").Str; !strings.HasPrefix(outcome, "499") || line.Get("level").Str != "info" {
			t.Errorf("a client that hangs up is a 499 at info level, not an upstream failure: %s", line.Raw)
		}
		for _, e := range gw.logEntries(gatewayLogMsg) {
			if e.Get("provider").Str == "slow" && e.Get("level").Str == "error" {
				t.Errorf("a client that hangs up is not a failure the operator must see, yet it is logged at error level: %s", e.Raw)
			}
		}
	})
}

// readThenDisconnect streams body and hangs up once it has read n content deltas. It returns the number of
// words the client received.
func readThenDisconnect(t *testing.T, c *http.Client, gw *caddyProc, body string, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.url("/v1/chat/completions"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	var content strings.Builder
	deltas := 0
	sc := bufio.NewScanner(resp.Body)
	for deltas < n && sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		if d := gjson.Get(data, "choices.0.delta.content"); d.Str != "" {
			content.WriteString(d.Str)
			deltas++
		}
	}
	if deltas < n {
		t.Fatalf("the stream ended after %d content deltas, before the client hung up (%v)", deltas, sc.Err())
	}
	cancel()
	return len(strings.Fields(content.String()))
}

// tokenCounts are the numbers of a usage object.
type tokenCounts struct{ PromptTokens, CompletionTokens, Total int64 }

// usageOf returns the usage of a completion body or of a stream's usage chunk.
func usageOf(a *answer) tokenCounts {
	u := a.usage
	if a.events == nil {
		u = gjson.GetBytes(a.body, "usage")
	}
	return tokenCounts{u.Get("prompt_tokens").Int(), u.Get("completion_tokens").Int(), u.Get("total_tokens").Int()}
}

// usageHeader returns X-AI-Gateway-Usage: a header on whole answers, a trailer on streams.
func usageHeader(a *answer) string {
	if v := a.header.Get("X-AI-Gateway-Usage"); v != "" {
		return v
	}
	return a.trailer.Get("X-AI-Gateway-Usage")
}

// provider keeps the gateway log lines of requests answered by provider p.
func provider(p string) func(gjson.Result) bool {
	return func(e gjson.Result) bool { return e.Get("ai_gateway.provider").Str == p }
}
