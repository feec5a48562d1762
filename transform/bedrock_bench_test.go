package transform

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aibackend/caddy-ai-gateway/internal/cloudfake"
)

// bedrockStreamBody returns a ConverseStream body (AWS event-stream framing) whose text arrives in n deltas.
func bedrockStreamBody(n int) []byte {
	var text strings.Builder
	for i := range n {
		text.WriteString(" word" + strconv.Itoa(i%10) + "!!!!!")
	}
	rec := httptest.NewRecorder()
	cloudfake.WriteConverseStream(rec, []byte(`{"output":{"message":{"role":"assistant","content":[{"text":`+
		strconv.Quote(text.String())+`}]}},"stopReason":"end_turn","usage":{"inputTokens":20,"outputTokens":`+strconv.Itoa(n)+`}}`))
	return rec.Body.Bytes()
}

// BenchmarkBedrockRelay measures the ConverseStream relay per event: AWS event-stream message decoded (both
// CRCs checked), its payload translated to an OpenAI chunk. Allocations per op stay flat as the stream grows:
// the reader reuses one payload buffer.
func BenchmarkBedrockRelay(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			d := NewBedrock(BedrockOptions{})
			req := &Request{ClientModel: "bedrock/amazon.nova-pro-v1:0", Stream: true}
			benchmarkRelay(b, bedrockStreamBody(n), func(r io.Reader) EventReader { return NewEventStreamReader(r, 0) },
				func() StreamTranslator { return d.NewStream(req) }, "ns/event")
		})
	}
}

// invokeStreamBody returns an InvokeModelWithResponseStream body (AWS event-stream chunks, each the base64 of
// an Anthropic event) whose text arrives in about n deltas.
func invokeStreamBody(n int) []byte {
	var text strings.Builder
	for i := range n {
		text.WriteString("word" + strconv.Itoa(i%10) + "!!!!!!!")
	}
	msg := cloudfake.ClaudeMessage([]byte(`{"messages":[]}`), "msg_01", "claude", text.String())
	rec := httptest.NewRecorder()
	cloudfake.WriteInvokeStream(rec, msg, -1, "", "")
	return rec.Body.Bytes()
}

// eventCountingSink counts what a Messages relay yields.
type eventCountingSink struct {
	countingSink
	events, bytes int
}

func (s *eventCountingSink) Event(_ string, data []byte) error {
	s.events++
	s.bytes += len(data)
	return nil
}

// BenchmarkBedrockMessagesRelay measures the InvokeModelWithResponseStream relay per event: AWS event-stream
// message decoded, its chunk's base64 decoded into a reused buffer, the Anthropic event checked and relayed.
// Allocations per event stay flat as the stream grows.
func BenchmarkBedrockMessagesRelay(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			body := invokeStreamBody(n)
			d := NewBedrock(BedrockOptions{})
			req := &Request{ClientModel: "bedrock/claude", Stream: true}
			sink := &eventCountingSink{}
			rd := bytes.NewReader(body)
			events := 0
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r, tr := NewEventStreamReader(rd, 0), d.NewMessagesStream(req)
				for {
					ev, err := r.Next()
					if err != nil {
						b.Fatalf("stream ended before message_stop: %v", err)
					}
					events++
					done, err := tr.Translate(ev, sink)
					if err != nil {
						b.Fatal(err)
					}
					if done {
						break
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		})
	}
}
