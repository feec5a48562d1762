package ratelimit

import (
	"testing"
)

// A claim refused after others were charged must leave those others as they were: on a cluster, where each
// claim is charged by a script of its own, the earlier claims are given back.
func TestRefusalByALaterClaimGivesBackTheEarlierOnes(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		budget, _ := ParseBudget("1usd/1d")
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"),
			Rule{Name: "wide", Requests: perMinute(10), Tokens: perMinute(1000), Budget: budget},
			Rule{Name: "narrow", Requests: perMinute(1)})
		claims := []Claim{{Rule: "wide", Key: "k", Tokens: 100, CostUSD: 0.25}, {Rule: "narrow", Key: "k"}}
		reserve(t, l, claims...)
		for range 3 {
			if r := reserve(t, l, claims...); r.Allowed() || r.Denial().Rule != "narrow" {
				t.Fatalf("allowed=%v %+v, want a refusal by narrow", r.Allowed(), r.Denial())
			}
		}
		h := reserve(t, l, Claim{Rule: "wide", Key: "k", Tokens: 0, CostUSD: 0.75}).Headers()
		if h.Requests.Remaining != 8 || h.Tokens.Remaining != 900 {
			t.Fatalf("wide has %d requests and %d tokens left, want 8 and 900: refused requests kept their charge",
				h.Requests.Remaining, h.Tokens.Remaining)
		}
		if r := reserve(t, l, Claim{Rule: "wide", Key: "k", CostUSD: 0.01}); r.Allowed() {
			t.Fatal("the budget of 1 USD took 0.25 + 0.75 + 0.01: refused requests gave their spend back twice")
		}
	})
}

// A claim with its own Limits (a virtual key's, read from a database) is enforced like a configured rule,
// and a changed limit applies to the usage already counted.
func TestClaimWithItsOwnLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		l := mustLimiter(t, s, newClock("2026-03-10T12:00:00Z"))
		lim := &Rule{Requests: perMinute(2)}
		c := Claim{Rule: "key abc", Limits: lim}
		if tok, spend := l.Counts(c); tok || spend {
			t.Fatalf("Counts = %v, %v for a requests-only limit", tok, spend)
		}
		reserve(t, l, c)
		reserve(t, l, c)
		if r := reserve(t, l, c); r.Allowed() || r.Denial().Rule != "key abc" {
			t.Fatalf("third request: allowed=%v %+v, want a refusal naming key abc", r.Allowed(), r.Denial())
		}
		c.Limits = &Rule{Requests: perMinute(3)}
		if r := reserve(t, l, c); !r.Allowed() {
			t.Fatal("a raised limit did not apply at once")
		}
		if r := reserve(t, l, Claim{Rule: "key other", Limits: lim}); !r.Allowed() {
			t.Fatal("another key shares the first one's counters")
		}
	})
}
