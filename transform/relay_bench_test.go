package transform

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

// openAIStreamBody returns a recorded-shape OpenAI stream of n one-word content chunks, a finish chunk, a usage
// chunk and [DONE], with the given line ending.
func openAIStreamBody(n int, eol string) []byte {
	const head = `{"id":"chatcmpl-Bx1","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_34a54ae93c","choices":[{"index":0,`
	var b strings.Builder
	ev := func(s string) { b.WriteString("data: " + s + eol + eol) }
	ev(head + `"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`)
	for i := range n {
		ev(head + `"delta":{"content":" word` + strconv.Itoa(i%10) + `"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	}
	ev(head + `"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`)
	ev(`{"id":"chatcmpl-Bx1","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":` + strconv.Itoa(n) + `,"total_tokens":` + strconv.Itoa(n+20) + `}}`)
	ev("[DONE]")
	return []byte(b.String())
}

// BenchmarkSSEReader measures splitting an upstream stream into events, per event, for LF (OpenAI, Anthropic)
// and CRLF (Gemini) framing.
func BenchmarkSSEReader(b *testing.B) {
	for _, framing := range []struct{ name, eol string }{{"LF", "\n"}, {"CRLF", "\r\n"}} {
		b.Run(framing.name, func(b *testing.B) {
			body := openAIStreamBody(200, framing.eol)
			events := 0
			rd := bytes.NewReader(body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r := NewSSEReader(rd, 0)
				for {
					if _, err := r.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					events++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		})
	}
}

// BenchmarkOpenAIRelay measures the passthrough relay of an OpenAI stream, per event: SSE framing read, event
// checked and model rewritten by the OpenAI stream translator, chunk handed to the sink. It is the per-event
// cost the gateway adds before writing to the client, the figure the dialect translators are compared with.
func BenchmarkOpenAIRelay(b *testing.B) {
	o := NewOpenAI(OpenAIOptions{})
	req := &Request{ClientModel: "openai/gpt-4o-mini", Model: "gpt-4o-mini", Stream: true}
	benchmarkRelay(b, openAIStreamBody(200, "\n"), func(r io.Reader) EventReader { return NewSSEReader(r, 0) },
		func() StreamTranslator { return o.NewStream(req) }, "ns/event")
}

// BenchmarkScanChunk measures the validating scan of one typical OpenAI chunk.
func BenchmarkScanChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-Bx1","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_34a54ae93c","choices":[{"index":0,"delta":{"content":" word1"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	s := &openAIStream{}
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		_ = scanJSON(chunk, s.member)
	}
}
