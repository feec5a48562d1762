package transform

import (
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
