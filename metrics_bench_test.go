package aigateway

import (
	"regexp"
	"strconv"
	"strings"
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

var createdAt = regexp.MustCompile(`created_timestamp:\{[^}]*\}`)

// The cached series of answered requests export exactly what looking each label up exports.
func TestObserveAnsweredMatchesEachLookup(t *testing.T) {
	results := []*gateway.Result{
		{Endpoint: "chat_completions", Status: 200, Provider: "openai",
			Attempts: []gateway.Attempt{{Label: "openai/gpt-4o-mini", Status: 200}},
			Usage:    usage.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15, Origin: usage.Reported}, CostUSD: 0.0001},
		{Endpoint: "chat_completions", Status: 200, Provider: "openai",
			Attempts: []gateway.Attempt{{Label: "openai/gpt-4o-mini", Status: 200}},
			Usage:    usage.Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10, Origin: usage.Counted}},
		{Endpoint: "embeddings", Status: 200, Provider: "local",
			Attempts: []gateway.Attempt{{Label: "local/embed", Status: 200}},
			Usage:    usage.Usage{PromptTokens: 4, TotalTokens: 4, Origin: usage.Estimated}},
		{Endpoint: "chat_completions", Status: 200, Provider: "b",
			Attempts: []gateway.Attempt{{Label: "a/m", Status: 503}, {Label: "b/m", Status: 200}}},
		{Endpoint: "chat_completions", Status: 429, Provider: "a", Attempts: []gateway.Attempt{{Label: "a/m", Status: 429}}},
	}
	gather := func(observe func(m *metrics, res *gateway.Result)) string {
		reg := prometheus.NewRegistry()
		m, err := newMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			for _, res := range results {
				observe(m, res)
			}
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range families {
			b.WriteString(createdAt.ReplaceAllString(f.String(), ""))
			b.WriteByte('\n')
		}
		return b.String()
	}
	cached := gather(func(m *metrics, res *gateway.Result) { m.observe(res, time.Millisecond) })
	each := gather(func(m *metrics, res *gateway.Result) { m.observeEach(res, time.Millisecond) })
	if cached != each {
		t.Fatalf("cached series export\n%s\nlooking each label up exports\n%s", cached, each)
	}
	if !strings.Contains(cached, `openai/gpt-4o-mini`) {
		t.Fatal("nothing was exported")
	}
}
