package router

import (
	"testing"
	"time"
)

// twoTargets is a round-robin route over a/x and b/x, so tests know which target comes next.
func twoTargets(c *Config) {
	c.Routes = []RouteConfig{{Name: "m", Policy: PolicyRoundRobin, Tiers: [][]WeightedTarget{targets("a/x", "b/x")}}}
}

// providersOf returns the providers of n single-target plans for model.
func providersOf(t *testing.T, r *Router, model string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		tg := first(t, r, model)
		seen[tg.Provider]++
		r.Start(tg).Done(Outcome{})
	}
	return seen
}

func TestConsecutiveFailuresCoolDownProbeAndRestore(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	a := Target{Provider: "a", Model: "x"}
	for range DefaultConsecutiveFailures - 1 {
		r.Start(a).Done(Outcome{Failed: true})
	}
	if r.Health(a).CoolingDown {
		t.Fatal("target cooled down before the third consecutive failure")
	}
	r.Start(a).Done(Outcome{Failed: true})
	if !r.Health(a).CoolingDown {
		t.Fatal("target not cooling down after 3 consecutive failures")
	}

	r2, clk := newTestRouter(t, twoTargets)
	for range 3 {
		p, _ := r2.Plan("m", nil)
		for tg, ok := p.Next(); ok; tg, ok = p.Next() {
			if tg.Provider == "a" {
				r2.Start(tg).Done(Outcome{Failed: true})
				break
			}
		}
	}
	if got := providersOf(t, r2, "m", 10); got["a"] != 0 {
		t.Fatalf("cooling target a was chosen %d times in its cooldown", got["a"])
	}
	clk.Advance(DefaultCooldown)

	// Half-open: exactly one request probes a; the others keep going to b while the probe runs.
	var probe Target
	probes := 0
	for range 10 {
		tg := first(t, r2, "m")
		if tg.Provider == "a" {
			probes++
			if !tg.Probe() {
				t.Fatal("first request to a after its cooldown is not marked as a probe")
			}
			probe = tg
		}
	}
	if probes != 1 {
		t.Fatalf("a was probed %d times while half-open, want exactly 1", probes)
	}
	r2.Start(probe).Done(Outcome{})
	if got := providersOf(t, r2, "m", 10); got["a"] != 5 {
		t.Fatalf("after a successful probe a got %d of 10 round-robin requests, want 5", got["a"])
	}
}

func TestFailedProbeCoolsDownAgain(t *testing.T) {
	r, clk := newTestRouter(t, twoTargets)
	a := Target{Provider: "a", Model: "x"}
	for range 3 {
		r.Start(a).Done(Outcome{Failed: true})
	}
	clk.Advance(DefaultCooldown)
	var probe Target
	for probe.Provider != "a" {
		probe = first(t, r, "m")
	}
	r.Start(probe).Done(Outcome{Failed: true})
	if !r.Health(a).CoolingDown {
		t.Fatal("a failed probe did not cool the target down again")
	}
	if got := providersOf(t, r, "m", 10); got["a"] != 0 {
		t.Fatalf("a got %d requests right after its failed probe", got["a"])
	}
	clk.Advance(DefaultCooldown)
	if got := providersOf(t, r, "m", 10); got["a"] == 0 {
		t.Fatal("a was never probed again after its second cooldown")
	}
}

func TestProbeThatNeverReportsIsReplacedAfterProbeTimeout(t *testing.T) {
	r, clk := newTestRouter(t, twoTargets)
	a := Target{Provider: "a", Model: "x"}
	for range 3 {
		r.Start(a).Done(Outcome{Failed: true})
	}
	clk.Advance(DefaultCooldown)
	for first(t, r, "m").Provider != "a" { // the probe is taken and never reported
	}
	if got := providersOf(t, r, "m", 10); got["a"] != 0 {
		t.Fatalf("a got %d requests while its probe ran", got["a"])
	}
	clk.Advance(DefaultProbeTimeout)
	probes := 0
	for range 10 { // none reported: a stays half-open
		if tg := first(t, r, "m"); tg.Provider == "a" {
			probes++
		}
	}
	if probes != 1 {
		t.Fatalf("after the probe timed out a got %d requests, want exactly one new probe", probes)
	}
}

func TestErrorRateOverWindowTrips(t *testing.T) {
	r, clk := newTestRouter(t, nil)
	a := Target{Provider: "a", Model: "x"}
	// Alternate so failures never run 3 in a row: F S F F S F S F F S F = 7 of 11.
	pattern := []bool{true, false, true, true, false, true, false, true, true, false}
	for _, failed := range pattern {
		r.Start(a).Done(Outcome{Failed: failed})
		clk.Advance(time.Second)
	}
	if r.Health(a).CoolingDown {
		t.Fatal("cooled down before the error rate crossed 50% over 10 requests")
	}
	r.Start(a).Done(Outcome{Failed: true}) // 7 failures of 11: over 50%
	if !r.Health(a).CoolingDown {
		t.Fatal("not cooling down with 7 of 11 requests failed in the window")
	}
}

func TestErrorRateNeedsMinRequestsAndResetsWithTheWindow(t *testing.T) {
	r, clk := newTestRouter(t, nil)
	a := Target{Provider: "a", Model: "x"}
	for range 4 {
		r.Start(a).Done(Outcome{Failed: true})
		r.Start(a).Done(Outcome{})
	}
	if r.Health(a).CoolingDown {
		t.Fatal("tripped on 4 of 8 failures: below the minimum request count")
	}
	clk.Advance(DefaultWindow)
	for range 4 {
		r.Start(a).Done(Outcome{Failed: true})
		r.Start(a).Done(Outcome{})
	}
	if r.Health(a).CoolingDown {
		t.Fatal("failures of the previous window counted toward this one")
	}
}

func TestRetryAfterCoolsDownAtOnceUpToTheCap(t *testing.T) {
	r, clk := newTestRouter(t, nil)
	a := Target{Provider: "a", Model: "x"}
	r.Start(a).Done(Outcome{Failed: true, RetryAfter: 3 * time.Second})
	if !r.Health(a).CoolingDown {
		t.Fatal("a 429 with retry-after did not cool the target down")
	}
	clk.Advance(3 * time.Second)
	if r.Health(a).CoolingDown {
		t.Fatal("still cooling down after the retry-after elapsed")
	}
	b := Target{Provider: "b", Model: "x"}
	r.Start(b).Done(Outcome{Failed: true, RetryAfter: time.Hour})
	clk.Advance(DefaultMaxCooldown)
	if r.Health(b).CoolingDown {
		t.Fatal("retry-after of an hour was not capped at MaxCooldown")
	}
}

func TestSuccessResetsConsecutiveFailures(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	a := Target{Provider: "a", Model: "x"}
	for range 5 { // two successes, two failures: never 3 failures in a row, never over 50%
		r.Start(a).Done(Outcome{})
		r.Start(a).Done(Outcome{})
		r.Start(a).Done(Outcome{Failed: true})
		r.Start(a).Done(Outcome{Failed: true})
	}
	if r.Health(a).CoolingDown {
		t.Fatal("two successes then two failures, repeated, tripped the breaker")
	}
}

func TestDisabledBreakerNeverSkips(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) { twoTargets(c); c.Breaker.Disabled = true })
	for range 10 {
		r.Start(Target{Provider: "a", Model: "x"}).Done(Outcome{Failed: true})
	}
	if got := providersOf(t, r, "m", 10); got["a"] != 5 {
		t.Fatalf("with the breaker disabled a got %d of 10 round-robin requests, want 5", got["a"])
	}
}

func TestInFlightAndLatencyAreTracked(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	tg := first(t, r, "a/x")
	at1, at2 := r.Start(tg), r.Start(tg)
	if h := r.Health(tg); h.InFlight != 2 {
		t.Fatalf("in flight = %d, want 2", h.InFlight)
	}
	at1.Done(Outcome{TTFB: 100 * time.Millisecond})
	at2.Done(Outcome{TTFB: 200 * time.Millisecond})
	h := r.Health(tg)
	if h.InFlight != 0 {
		t.Fatalf("in flight = %d after both done, want 0", h.InFlight)
	}
	if h.TTFB != 125*time.Millisecond {
		t.Fatalf("latency average = %v, want 125ms (100ms moved a quarter toward 200ms)", h.TTFB)
	}
}
