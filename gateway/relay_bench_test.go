package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// relayBody is an OpenAI stream of n content chunks, a finish chunk, a usage chunk and [DONE].
func relayBody(n int) []byte {
	const head = `{"id":"chatcmpl-Bx1","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_34a54ae93c","choices":[{"index":0,`
	var b strings.Builder
	ev := func(s string) { b.WriteString("data: " + s + "\n\n") }
	ev(head + `"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}`)
	for i := range n {
		ev(head + `"delta":{"content":" word` + strconv.Itoa(i%10) + `"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	}
	ev(head + `"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`)
	ev(`{"id":"chatcmpl-Bx1","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":` + strconv.Itoa(n) + `,"total_tokens":` + strconv.Itoa(n+20) + `}}`)
	ev("[DONE]")
	return []byte(b.String())
}

// BenchmarkStreamRelayCounting measures the engine's per-event relay of an OpenAI stream (read, translate,
// write, flush) with the local token counter off and on: the cost of always being able to account a stream
// the upstream leaves without usage.
func BenchmarkStreamRelayCounting(b *testing.B) {
	const n = 200
	body := relayBody(n)
	tok := usage.NewTokenizer()
	tok.Warm()
	dialect := transform.NewOpenAI(transform.OpenAIOptions{})
	req := &transform.Request{ClientModel: "openai/gpt-4o-mini", Model: "gpt-4o-mini", Stream: true}
	for _, counting := range []bool{false, true} {
		b.Run("counting="+strconv.FormatBool(counting), func(b *testing.B) {
			w := &discardWriter{h: http.Header{}} // from gateway_bench_test.go
			rd := bytes.NewReader(body)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				events := transform.NewSSEReader(rd, 0)
				sw := &streamWriter{w: w, rc: http.NewResponseController(w), model: req.ClientModel}
				if counting {
					sw.counter = tok.NewStreamCounter("openai/gpt-4o-mini")
				}
				ev, err := events.Next()
				if err != nil {
					b.Fatal(err)
				}
				if err := pump(context.Background(), "openai", events, dialect.NewStream(req), sw, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+4)), "ns/event")
		})
	}
}
