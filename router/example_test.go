package router_test

import (
	"fmt"
	"time"

	"github.com/aibackend/caddy-ai-gateway/router"
)

// The engine's attempt loop: plan, try a target, report the outcome, and retry on another target while
// the policy allows it. send stands in for the upstream call (status 0 = connection error).
func ExampleRouter_Plan() {
	r, _ := router.New(router.Config{
		Providers: []router.ProviderConfig{{Name: "openai"}, {Name: "groq"}, {Name: "anthropic"}},
		Routes: []router.RouteConfig{{
			Name:  "smart",
			Tiers: [][]router.WeightedTarget{{{Model: "openai/gpt-4o-mini"}}, {{Model: "groq/llama-3.1-8b"}}},
		}},
	})
	send := func(t router.Target) int {
		if t.Provider == "openai" {
			return 503
		}
		return 200
	}
	retry := router.RetryPolicy{}.WithDefaults()
	plan, err := r.Plan("smart", []string{"anthropic/claude-haiku-4-5"}) // the body's "models" list
	if err != nil {
		fmt.Println(err) // a *router.NotFoundError: answer 404 model_not_found
		return
	}
	start := time.Now()
	for t, ok := plan.Next(); ok; t, ok = plan.Next() {
		attempt := r.Start(t)
		status := send(t)
		failed := status == 0 || status >= 500 || status == 429
		attempt.Done(router.Outcome{Failed: failed, TTFB: 80 * time.Millisecond})
		fmt.Printf("attempt %d: %s -> %d\n", plan.Tried(), t, status)
		if !failed || !retry.Retryable(status) || !retry.Again(plan.Tried(), time.Since(start), 0) {
			fmt.Println("answered as", plan.Model())
			break
		}
	}
	// Output:
	// attempt 1: openai/gpt-4o-mini -> 503
	// attempt 2: groq/llama-3.1-8b -> 200
	// answered as smart
}
