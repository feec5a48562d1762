package router

import (
	"errors"
	"testing"
)

// drain returns "model>target" for every target the plan yields.
func drain(p *Plan) []string {
	var out []string
	for tg, ok := p.Next(); ok; tg, ok = p.Next() {
		out = append(out, p.Model()+">"+id(tg))
	}
	return out
}

func TestPlanWalksTiersThenFallbacksWithoutRepeats(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers[1].Keys = 2
		c.Aliases = map[string]string{"cheap": "d/w"}
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{
			{{Model: "a/x", Weight: 3}, {Model: "b/y", Weight: 1}},
			targets("c/z", "a/x"), // a/x again: already tried, so skipped
		}}}
	})
	// Fallbacks: an alias, a direct name already tried inside the route, and a new direct name.
	p, err := r.Plan("smart", []string{"cheap", "c/z", "a/other"})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(p)
	if len(got) != 6 {
		t.Fatalf("plan yielded %v, want 6 distinct targets", got)
	}
	tier1 := map[string]bool{got[0]: true, got[1]: true, got[2]: true}
	for _, want := range []string{"smart>a/x#0", "smart>b/y#0", "smart>b/y#1"} {
		if !tier1[want] {
			t.Fatalf("first tier yielded %v, want a/x and both b/y keys in some order", got[:3])
		}
	}
	if rest := got[3:]; rest[0] != "smart>c/z#0" || rest[1] != "cheap>d/w#0" || rest[2] != "a/other>a/other#0" {
		t.Fatalf("after the first tier got %v, want the second tier's c/z, then fallback cheap, then a/other", rest)
	}
	if p.Tried() != 6 {
		t.Fatalf("Tried = %d, want 6", p.Tried())
	}
	if _, ok := p.Next(); ok {
		t.Fatal("Next after exhaustion yielded a target")
	}
}

func TestPlanSkipsCoolingTierForTheNext(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{targets("a/x"), targets("b/y")}}}
	})
	for range 3 {
		r.Start(Target{Provider: "a", Model: "x"}).Done(Outcome{Failed: true})
	}
	p, _ := r.Plan("smart", nil)
	if got := drain(p); len(got) != 1 || got[0] != "smart>b/y#0" {
		t.Fatalf("with a/x cooling the plan yielded %v, want only b/y", got)
	}
}

func TestPlanProbesWhenEverythingIsCooling(t *testing.T) {
	r, clk := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{targets("a/x", "b/y")}}}
	})
	for range 3 {
		r.Start(Target{Provider: "b", Model: "y"}).Done(Outcome{Failed: true})
	}
	clk.Advance(DefaultCooldown / 2)
	for range 3 {
		r.Start(Target{Provider: "a", Model: "x"}).Done(Outcome{Failed: true})
	}
	p, _ := r.Plan("smart", nil)
	tg, ok := p.Next()
	if !ok || tg.Provider != "b" || !tg.Probe() {
		t.Fatalf("all cooling: Next = %v %v probe=%v, want a probe of b (its cooldown ends first)", tg, ok, tg.Probe())
	}
	r.Start(tg).Done(Outcome{})
	if _, ok := p.Next(); ok {
		t.Fatal("a plan that forced one probe yielded another cooling target")
	}
	if got := drain(mustPlan(t, r, "smart")); len(got) != 1 || got[0] != "smart>b/y#0" {
		t.Fatalf("after b's successful forced probe a new plan yielded %v, want b alone (a still cooling)", got)
	}
}

func TestSingleTargetIsNeverRefused(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	for range 10 {
		tg := first(t, r, "a/x")
		r.Start(tg).Done(Outcome{Failed: true})
	}
}

func TestPlanUnknownFallbackIsNotFound(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) { c.Providers[0].Models = []string{"x"} })
	for _, fb := range []string{"zz/x", "a/not-allowed"} {
		_, err := r.Plan("a/x", []string{"b/y", fb})
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Model != fb {
			t.Errorf("Plan with fallback %q: error %v, want NotFoundError naming it", fb, err)
		}
	}
	if _, err := r.Plan("a/not-allowed", nil); err == nil {
		t.Error("Plan of a model outside the allow-list succeeded")
	}
}

func TestPlanIntoReusesWithoutStaleState(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	var p Plan
	if err := r.PlanInto(&p, "a/x", []string{"b/y"}); err != nil {
		t.Fatal(err)
	}
	drain(&p)
	if err := r.PlanInto(&p, "c/z", nil); err != nil {
		t.Fatal(err)
	}
	if got := drain(&p); len(got) != 1 || got[0] != "c/z>c/z#0" {
		t.Fatalf("reused plan yielded %v, want only c/z", got)
	}
	var zero Plan
	if _, ok := zero.Next(); ok {
		t.Fatal("a zero Plan yielded a target")
	}
}

func TestManyFallbacksAndAttemptsGrowPastInlineStorage(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) { c.Providers[0].Keys = 12 })
	p, err := r.Plan("a/x", []string{"b/1", "b/2", "b/3", "b/4", "b/5"})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(p)
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Fatalf("target %s yielded twice", g)
		}
		seen[g] = true
	}
	if len(got) != 17 {
		t.Fatalf("yielded %d targets, want 12 keys + 5 fallbacks", len(got))
	}
}

func mustPlan(t *testing.T, r *Router, model string) *Plan {
	t.Helper()
	p, err := r.Plan(model, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
