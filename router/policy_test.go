package router

import (
	"container/heap"
	"math"
	"testing"
	"time"
)

func TestWeightedSharesHoldOver10kSelections(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers[0].Keys = 2 // a's weight is split between its two keys
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{{
			{Model: "a/x", Weight: 4}, {Model: "b/y", Weight: 3}, {Model: "c/z", Weight: 1},
		}}}}
	})
	const n = 10_000
	counts := map[string]int{}
	for range n {
		counts[id(first(t, r, "smart"))]++
	}
	want := map[string]float64{"a/x#0": 0.25, "a/x#1": 0.25, "b/y#0": 0.375, "c/z#0": 0.125}
	for k, p := range want {
		// Five standard deviations of a binomial share: fails by chance about once in 3 million runs.
		tol := 5 * math.Sqrt(p*(1-p)/n)
		if got := float64(counts[k]) / n; math.Abs(got-p) > tol {
			t.Errorf("%s share = %.4f, want %.4f ± %.4f (counts %v)", k, got, p, tol, counts)
		}
	}
}

func TestRoundRobinCycles(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "rr", Policy: PolicyRoundRobin, Tiers: [][]WeightedTarget{targets("a/x", "b/x", "c/x")}}}
	})
	var got []string
	for range 7 {
		got = append(got, first(t, r, "rr").Provider)
	}
	if s := join(got); s != "a b c a b c a" {
		t.Fatalf("round robin order = %s", s)
	}
}

func TestRoundRobinSkipsTriedAndCoolingTargets(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "rr", Policy: PolicyRoundRobin, Tiers: [][]WeightedTarget{targets("a/x", "b/x", "c/x")}}}
	})
	p, _ := r.Plan("rr", nil)
	var got []string
	for tg, ok := p.Next(); ok; tg, ok = p.Next() {
		got = append(got, tg.Provider)
	}
	if s := join(got); s != "a b c" {
		t.Fatalf("one plan over a round-robin tier = %s, want every target once", s)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// completion is a simulated request that ends at a given time.
type completion struct {
	at      time.Duration
	attempt Attempt
	ttfb    time.Duration
}

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// simulate sends one request per millisecond for 3 s to a route over a fast (5 ms) and a slow (50 ms)
// upstream under pol and returns the fast one's share of the requests.
func simulate(t *testing.T, pol Policy) float64 {
	r, clk := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "m", Policy: pol, Tiers: [][]WeightedTarget{targets("a/fast", "b/slow")}}}
	})
	latency := map[string]time.Duration{"a": 5 * time.Millisecond, "b": 50 * time.Millisecond}
	var pending completions
	var now time.Duration
	fast, total := 0, 0
	for now = 0; now < 3*time.Second; now += time.Millisecond {
		for len(pending) > 0 && pending[0].at <= now {
			c := heap.Pop(&pending).(completion)
			c.attempt.Done(Outcome{TTFB: c.ttfb})
		}
		clk.ns.Store(int64(now))
		tg := first(t, r, "m")
		lat := latency[tg.Provider]
		heap.Push(&pending, completion{at: now + lat, attempt: r.Start(tg), ttfb: lat})
		total++
		if tg.Provider == "a" {
			fast++
		}
	}
	return float64(fast) / float64(total)
}

func TestLeastBusyAndLowestLatencyPreferTheFastTarget(t *testing.T) {
	if share := simulate(t, PolicyWeighted); share < 0.45 || share > 0.55 {
		t.Fatalf("control: weighted sent %.2f to the fast target, want about half", share)
	}
	// Fewest in flight settles where 50ms*share_slow = 5ms*share_fast: about 91% fast.
	if share := simulate(t, PolicyLeastBusy); share < 0.85 {
		t.Errorf("least_busy sent %.2f to the fast target, want at least 0.85", share)
	}
	if share := simulate(t, PolicyLowestLatency); share < 0.95 {
		t.Errorf("lowest_latency sent %.2f to the fast target, want at least 0.95", share)
	}
}
