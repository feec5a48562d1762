package ratelimit

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentSpendNeverExceedsBudget sends 100 concurrent requests that may each cost up to 0.01 USD
// against a 0.05 USD budget: admission reserves the worst case, so what they spend together stays within it.
func TestConcurrentSpendNeverExceedsBudget(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		budget, _ := ParseBudget("0.05usd/1d")
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"), Rule{Name: "team", Budget: budget})
		var spentNano, allowed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 100 {
			wg.Go(func() {
				<-start
				r, err := l.Reserve(ctx, []Claim{{Rule: "team", Key: "team-a", CostUSD: 0.01}})
				if err != nil {
					t.Error(err)
					return
				}
				if !r.Allowed() {
					if d := r.Denial(); d.Kind != KindBudget || d.Code() != "insufficient_quota" {
						t.Errorf("refusal %+v: want a budget refusal", d)
					}
					return
				}
				allowed.Add(1)
				cost := 0.01 - float64(i%3)*0.001 // at most what was reserved
				spentNano.Add(usdToNano(cost))
				if err := r.Settle(ctx, 100, cost); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if got := float64(spentNano.Load()) / 1e9; got > 0.05+1e-12 {
			t.Fatalf("%d allowed requests spent %.4f USD of a 0.05 USD budget", allowed.Load(), got)
		}
		if allowed.Load() < 5 {
			t.Fatalf("only %d requests passed: 5 requests of at most 0.01 USD fit a 0.05 USD budget", allowed.Load())
		}
		// What is left is less than one more request's worst case.
		if r := reserve(t, l, Claim{Rule: "team", Key: "team-a", CostUSD: 0.01}); r.Allowed() &&
			float64(spentNano.Load())/1e9 > 0.04+1e-12 {
			t.Fatalf("a request reserving 0.01 USD passed with %.4f USD spent of 0.05", float64(spentNano.Load())/1e9)
		}
	})
}

func TestBudgetReservationIsCorrectedAtSettle(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T12:00:00Z")
		budget, _ := ParseBudget("0.05usd/1d")
		l := mustLimiter(t, s, c, Rule{Name: "team", Budget: budget})
		claim := Claim{Rule: "team", Key: "k", CostUSD: 0.04}
		first := reserve(t, l, claim)
		if !first.Allowed() {
			t.Fatalf("a 0.04 USD reservation was refused by an unused 0.05 USD budget: %+v", first.Denial())
		}
		second := reserve(t, l, claim)
		if second.Allowed() {
			t.Fatal("two reservations of 0.04 USD passed a 0.05 USD budget")
		}
		d := second.Denial()
		if d.Kind != KindBudget || d.TooLarge || d.RequestedUSD != 0.04 || !strings.Contains(d.Message(), "0.04") ||
			!strings.Contains(d.Message(), `"team"`) {
			t.Fatalf("refusal %+v (%q): want a budget refusal naming the rule and the 0.04 USD reserved", d, d.Message())
		}
		if err := first.Settle(ctx, 10, 0.01); err != nil {
			t.Fatal(err)
		}
		third := reserve(t, l, claim)
		if !third.Allowed() {
			t.Fatalf("after settling 0.04 reserved to 0.01 spent, 0.04 more was refused: %+v", third.Denial())
		}
		if err := third.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if r := reserve(t, l, claim); !r.Allowed() {
			t.Fatalf("Cancel did not give the reserved spend back: %+v", r.Denial())
		}
	})
}

func TestBudgetTooSmallForTheRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		budget, _ := ParseBudget("0.05usd/1d")
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"), Rule{Name: "team", Budget: budget})
		r := reserve(t, l, Claim{Rule: "team", Key: "k", CostUSD: 0.06})
		d := r.Denial()
		if r.Allowed() || d.Kind != KindBudget || !d.TooLarge || !strings.Contains(d.Message(), "max_tokens") {
			t.Fatalf("allowed=%v refusal %+v (%q): a request whose worst case exceeds the whole budget must be refused as too large",
				r.Allowed(), d, d.Message())
		}
		// A model without a price reserves nothing and passes while the budget is not spent.
		if r := reserve(t, l, Claim{Rule: "team", Key: "k"}); !r.Allowed() {
			t.Fatalf("a request reserving 0 USD was refused by an unspent budget: %+v", r.Denial())
		}
	})
}

func TestBudgetReservedInOnePeriodSettledInTheNext(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c := newClock("2026-03-10T23:59:59Z")
		budget, _ := ParseBudget("0.05usd/1d")
		l := mustLimiter(t, s, c, Rule{Name: "team", Budget: budget})
		r := reserve(t, l, Claim{Rule: "team", Key: "k", CostUSD: 0.04})
		c.Advance(2 * time.Second)
		if err := r.Settle(ctx, 10, 0.03); err != nil {
			t.Fatal(err)
		}
		// The new day is charged what the request cost, not less (the reservation belonged to the old day).
		if next := reserve(t, l, Claim{Rule: "team", Key: "k", CostUSD: 0.03}); next.Allowed() {
			t.Fatal("0.03 USD more passed with 0.03 of the new day's 0.05 USD already spent")
		}
		if next := reserve(t, l, Claim{Rule: "team", Key: "k", CostUSD: 0.02}); !next.Allowed() {
			t.Fatalf("0.02 USD refused with 0.03 of 0.05 spent: %+v", next.Denial())
		}
	})
}
