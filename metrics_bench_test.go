package aigateway

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// BenchmarkObserve is the metrics' share of one answered request: what RequestPath, which has no metrics,
// does not see.
func BenchmarkObserve(b *testing.B) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	res := &gateway.Result{Endpoint: "chat_completions", Status: 200, Provider: "openai",
		Attempts: []gateway.Attempt{{Target: "openai/gpt-4o-mini", Label: "openai/gpt-4o-mini", Status: 200}},
		Usage:    usage.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15, Origin: usage.Reported}, CostUSD: 0.0001}
	b.ReportAllocs()
	for b.Loop() {
		m.observe(res, time.Millisecond)
	}
}

func TestStatusLabel(t *testing.T) {
	for code := 0; code < 700; code++ {
		if got, want := statusLabel(code), strconv.Itoa(code); got != want {
			t.Fatalf("statusLabel(%d) = %q", code, got)
		}
	}
}
