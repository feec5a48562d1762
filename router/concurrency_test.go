package router

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentPlansWithAFlakyTarget runs 500 goroutines that plan, start and finish attempts while one
// of three targets fails half the time. Every request must find a target that serves it, and in-flight
// counts must return to zero.
func TestConcurrentPlansWithAFlakyTarget(t *testing.T) {
	for _, pol := range []Policy{PolicyWeighted, PolicyRoundRobin, PolicyLeastBusy, PolicyLowestLatency} {
		t.Run(string(pol), func(t *testing.T) {
			r, err := New(Config{
				Providers: []ProviderConfig{{Name: "flaky"}, {Name: "good", Keys: 2}},
				Routes: []RouteConfig{{Name: "m", Policy: pol, Tiers: [][]WeightedTarget{
					targets("flaky/x", "good/x"), targets("good/y"),
				}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var failedRequests, flakyAttempts atomic.Int64
			var wg sync.WaitGroup
			for g := range 500 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					var p Plan
					for range 20 {
						if err := r.PlanInto(&p, "m", []string{"good/z"}); err != nil {
							t.Error(err)
							return
						}
						served := false
						for tg, ok := p.Next(); ok && !served; tg, ok = p.Next() {
							a := r.Start(tg)
							fail := tg.Provider == "flaky" && rng.IntN(2) == 0
							if tg.Provider == "flaky" {
								flakyAttempts.Add(1)
							}
							a.Done(Outcome{Failed: fail, TTFB: time.Duration(1+rng.IntN(5)) * time.Millisecond})
							served = !fail
						}
						if !served {
							failedRequests.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if n := failedRequests.Load(); n != 0 {
				t.Errorf("%d requests failed although healthy targets could serve them", n)
			}
			if flakyAttempts.Load() == 0 {
				t.Error("the flaky target was never tried")
			}
			all, _ := r.Resolve("m")
			for _, tg := range all {
				if h := r.Health(tg); h.InFlight != 0 {
					t.Errorf("%s in flight = %d after all requests ended", id(tg), h.InFlight)
				}
			}
		})
	}
}
