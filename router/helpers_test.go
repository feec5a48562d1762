package router

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(1_700_000_000, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newTestRouter builds a Router over providers a, b, c, d (any model) with a fake clock and seeded
// randomness; mutate adjusts the config first.
func newTestRouter(t testing.TB, mutate func(*Config)) (*Router, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := Config{
		Providers: []ProviderConfig{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
		Now:       clk.Now,
		Rand:      rng.Uint64,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, clk
}

// first plans model and returns its first target.
func first(t testing.TB, r *Router, model string) Target {
	t.Helper()
	p, err := r.Plan(model, nil)
	if err != nil {
		t.Fatalf("Plan(%q): %v", model, err)
	}
	tg, ok := p.Next()
	if !ok {
		t.Fatalf("Plan(%q).Next: no target", model)
	}
	return tg
}

// id names a target with its key: "a/x#0".
func id(t Target) string { return t.String() + "#" + string(rune('0'+t.Key)) }

func targets(models ...string) []WeightedTarget {
	out := make([]WeightedTarget, len(models))
	for i, m := range models {
		out[i] = WeightedTarget{Model: m}
	}
	return out
}
