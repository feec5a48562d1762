package router

import (
	"testing"
	"time"
)

// BenchmarkSelect measures PlanInto+Next (+Start/Done) for a 4-target route under each policy.
func BenchmarkSelect(b *testing.B) {
	for _, pol := range []Policy{PolicyWeighted, PolicyRoundRobin, PolicyLeastBusy, PolicyLowestLatency} {
		r, err := New(Config{
			Providers: []ProviderConfig{{Name: "openai", Keys: 2}, {Name: "groq"}, {Name: "anthropic"}},
			Routes: []RouteConfig{{Name: "smart", Policy: pol, Tiers: [][]WeightedTarget{
				{{Model: "openai/gpt-4o-mini", Weight: 3}, {Model: "groq/llama-3.1-8b", Weight: 1}, {Model: "anthropic/claude-haiku-4-5", Weight: 1}},
			}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(pol)+"/plan+next", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var p Plan
				for pb.Next() {
					_ = r.PlanInto(&p, "smart", nil)
					p.Next()
				}
			})
		})
		b.Run(string(pol)+"/plan+next+start+done", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var p Plan
				for pb.Next() {
					_ = r.PlanInto(&p, "smart", nil)
					tg, _ := p.Next()
					r.Start(tg).Done(Outcome{TTFB: time.Millisecond})
				}
			})
		})
	}
}

// BenchmarkPlanDirect measures a direct "provider/model" name with one fallback, and the allocating Plan.
func BenchmarkPlanDirect(b *testing.B) {
	r, err := New(Config{Providers: []ProviderConfig{{Name: "openai", Keys: 3}, {Name: "groq"}}})
	if err != nil {
		b.Fatal(err)
	}
	fallbacks := []string{"groq/llama-3.1-8b"}
	b.Run("PlanInto", func(b *testing.B) {
		b.ReportAllocs()
		var p Plan
		for b.Loop() {
			_ = r.PlanInto(&p, "openai/gpt-4o-mini", fallbacks)
			p.Next()
		}
	})
	b.Run("Plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := r.Plan("openai/gpt-4o-mini", fallbacks)
			p.Next()
		}
	})
}
