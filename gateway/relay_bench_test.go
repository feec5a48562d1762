package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aibackend/caddy-ai-gateway/simulator"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// relayBody is what the simulator streams for an OpenAI request of n one-token chunks, with usage.
func relayBody(b *testing.B, n int) []byte {
	rec := httptest.NewRecorder()
	simulator.New(simulator.Config{CompletionTokens: n}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost,
		"/v1/chat/completions", strings.NewReader(benchStreamBody)))
	if rec.Code != http.StatusOK {
		b.Fatalf("simulator: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// BenchmarkStreamRelayCounting measures the engine's per-event relay of an OpenAI stream (read, translate,
// write, flush) with the local token counter off and on: the cost of always being able to account a stream
// the upstream leaves without usage.
func BenchmarkStreamRelayCounting(b *testing.B) {
	const n = 200
	body := relayBody(b, n)
	tok := usage.NewTokenizer()
	tok.Warm()
	dialect := transform.NewOpenAI(transform.OpenAIOptions{})
	req := &transform.Request{ClientModel: "openai/gpt-4o-mini", Model: "gpt-4o-mini", Stream: true}
	for _, counting := range []bool{false, true} {
		b.Run("counting="+strconv.FormatBool(counting), func(b *testing.B) {
			w := &discardWriter{h: http.Header{}} // from gateway_bench_test.go
			rd := bytes.NewReader(body)
			b.ReportAllocs()
			cpu := processCPU()
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
				tr := dialect.NewStream(req)
				done, err := tr.Translate(ev, sw)
				if err != nil {
					b.Fatal(err)
				}
				if err := pump(context.Background(), "openai", DefaultMaxEventSize, events, tr, sw, done); err != nil {
					b.Fatal(err)
				}
				sw.counter.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+4)), "ns/event")
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N*(n+4)), "cpu-ns/event")
		})
	}
}

// processCPU is the CPU time (user and system) the test process has used so far, every goroutine included.
// On a machine shared with other work it varies much less than wall time: benchmarks report it per operation
// as cpu-ns/op next to ns/op.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
