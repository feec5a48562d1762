package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Claim asks for one request to be charged against one rule for one key.
type Claim struct {
	// Rule is the Name of a Rule given to New.
	Rule string
	// Key is the expanded key expression, e.g. the identity of the client's API key. It is hashed before it
	// reaches a store.
	Key string
	// Tokens is the estimate reserved against the rule's token rate: prompt tokens plus n × max_tokens (or
	// n × the configured completion estimate). Settle corrects it to the real usage.
	Tokens int
	// CostUSD is the worst-case cost reserved against the rule's budget: what the request costs at most (its
	// prompt and n × max_tokens at the model's price). Settle replaces it with the real cost. Zero (a model
	// without a price) reserves nothing.
	CostUSD float64
	// Limits, when set, are the claim's own limits, used instead of those of a configured rule: limits that
	// live in a database and change while the Limiter runs, such as a virtual key's. Rule then names the
	// counters (its Name is ignored) and need not be given to New; Limits must pass Rule.Validate. Counters
	// are kept per Rule and Key as for configured rules, so a changed limit applies to the counted usage at once.
	Limits *Rule
	// Images is the number of images the request asks for, charged against the rule's image rate (and not
	// corrected by Settle); 0 for requests that make none.
	Images int
}

// StoreErrorPolicy says what a Limiter does with a request when its store fails.
type StoreErrorPolicy uint8

const (
	// AllowOnStoreError serves the request unlimited. It is the default: an outage of the limit store does not
	// become an outage of the gateway.
	AllowOnStoreError StoreErrorPolicy = iota
	// DenyOnStoreError refuses the request with KindStoreUnavailable (HTTP 503).
	DenyOnStoreError
)

// ParseStoreErrorPolicy parses the Caddyfile values `allow` and `deny`.
func ParseStoreErrorPolicy(s string) (StoreErrorPolicy, error) {
	switch s {
	case "allow":
		return AllowOnStoreError, nil
	case "deny":
		return DenyOnStoreError, nil
	}
	return 0, fmt.Errorf("on_store_error %q: want allow or deny", s)
}

// String returns `allow` or `deny`.
func (p StoreErrorPolicy) String() string {
	if p == DenyOnStoreError {
		return "deny"
	}
	return "allow"
}

// Options tune a Limiter. The zero value is ready to use.
type Options struct {
	// OnStoreError says what to do when the store fails; the default is AllowOnStoreError.
	OnStoreError StoreErrorPolicy
	// Now is the clock; nil means time.Now. With a Redis store this clock, not Redis's, times the limits, so
	// gateways sharing a Redis need synchronised clocks (NTP).
	Now func() time.Time
}

// StoreError is a failure of the limit store. Reserve, Settle and Cancel return it so the caller can log it
// and count it; the Reservation still carries the decision made under Options.OnStoreError.
type StoreError struct {
	// Op is the operation that failed: reserve, settle or cancel.
	Op string
	// Err is the store's error.
	Err error
}

// Error implements the error interface.
func (e *StoreError) Error() string {
	return "rate limit store failed to " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// Limiter charges requests against a set of rules held in a Store. It is safe for concurrent use. A Limiter
// is cheap: build a new one for each config, over a Store kept across config reloads; the new rule values
// then apply to the kept counters at once.
type Limiter struct {
	store Store
	// mem is the store when it is a *MemoryStore, called directly so the hot path does not allocate.
	mem          *MemoryStore
	rules        map[string]*rule
	onStoreError StoreErrorPolicy
	now          func() time.Time
}

// rule is a validated Rule with its budget in the stores' unit.
type rule struct {
	name       string
	req, tok   Rate
	budget     Budget
	budgetNano int64
	// images is the rule's image rate as a rule of its own, whose token rate counts images (nil: none);
	// countsImages marks such a rule.
	images       *rule
	countsImages bool
	// period caches the budget period last computed, as Unix nanoseconds [start, end).
	period atomic.Pointer[[2]int64]
}

// periodAt returns the budget period containing now, in Unix nanoseconds.
func (r *rule) periodAt(now time.Time) (start, end int64) {
	ns := now.UnixNano()
	if p := r.period.Load(); p != nil && ns >= p[0] && ns < p[1] {
		return p[0], p[1]
	}
	s, e := r.budget.Period.Bounds(now)
	start, end = s.UnixNano(), e.UnixNano()
	r.period.Store(&[2]int64{start, end})
	return start, end
}

// New returns a Limiter enforcing rules over store.
func New(store Store, rules []Rule, opts Options) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("rate limiter needs a store: use NewMemoryStore or NewRedisStore")
	}
	l := &Limiter{store: store, rules: make(map[string]*rule, len(rules)), onStoreError: opts.OnStoreError, now: opts.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if m, ok := store.(*MemoryStore); ok {
		l.mem = m
	}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if _, dup := l.rules[r.Name]; dup {
			return nil, fmt.Errorf("rate limit %q is defined twice: give each rate_limit block its own name", r.Name)
		}
		rl := &rule{name: r.Name, req: r.Requests, tok: r.Tokens, budget: r.Budget, budgetNano: r.Budget.nanoUSD()}
		if !r.Images.IsZero() {
			rl.images = &rule{name: r.Name, tok: r.Images, countsImages: true}
		}
		l.rules[r.Name] = rl
	}
	return l, nil
}

// CountsTokens reports whether the named rule limits tokens, that is whether its claims need a token estimate.
func (l *Limiter) CountsTokens(rule string) bool {
	r := l.rules[rule]
	return r != nil && !r.tok.IsZero()
}

// CountsSpend reports whether the named rule has a budget, that is whether its claims need a cost estimate.
func (l *Limiter) CountsSpend(rule string) bool {
	r := l.rules[rule]
	return r != nil && r.budgetNano > 0
}

// Counts reports whether a claim's rule (its own Limits, or the configured rule it names) limits tokens and
// whether it has a budget, that is whether the claim needs a token estimate and a cost estimate.
func (l *Limiter) Counts(c Claim) (tokens, spend bool) {
	if c.Limits != nil {
		return !c.Limits.Tokens.IsZero(), c.Limits.Budget.nanoUSD() > 0
	}
	return l.CountsTokens(c.Rule), l.CountsSpend(c.Rule)
}

// Store returns the store the limiter charges.
func (l *Limiter) Store() Store { return l.store }

// Reserve charges one request, and each claim's estimated tokens, against every claimed rule in one atomic
// step: either everything is taken, or, when any limit would be exceeded, nothing is and the Reservation
// names the first limit that refused (in claim order; within a claim: requests, tokens, budget). A budget
// admits a request only when the spend settled, plus the worst-case costs reserved by requests in flight,
// plus this request's CostUSD fit in it, so concurrent requests never together spend more than the budget
// (as long as each costs at most what it reserved).
//
// A non-nil error is either a *StoreError, after which the Reservation holds the OnStoreError decision, or a
// claim naming an unknown rule (a configuration bug), after which the Reservation is refused with KindInvalid.
// Every allowed Reservation must end with Settle or Cancel.
func (l *Limiter) Reserve(ctx context.Context, claims []Claim) (Reservation, error) {
	r := Reservation{lim: l}
	if err := l.fill(&r.b, claims); err != nil {
		r.kind = KindInvalid
		return r, err
	}
	if r.b.n == 0 {
		r.allowed = true
		return r, nil
	}
	var err error
	if l.mem != nil {
		r.denied, r.kind = l.mem.reserveLocal(&r.b)
	} else {
		r.b, r.denied, r.kind, err = reserveVia(ctx, l.store, r.b)
	}
	if err != nil {
		r.denied, r.kind = 0, 0
		if l.onStoreError == DenyOnStoreError {
			r.kind = KindStoreUnavailable
		} else {
			r.allowed, r.untaken = true, true
		}
		return r, &StoreError{Op: "reserve", Err: err}
	}
	r.allowed = r.kind == 0
	return r, nil
}

// reserveVia calls a store through the interface with a copy of the batch, so that the caller's batch does
// not escape to the heap on the in-memory path.
func reserveVia(ctx context.Context, s Store, b batch) (batch, int, Kind, error) {
	denied, kind, err := s.reserve(ctx, &b)
	return b, denied, kind, err
}

func (l *Limiter) fill(b *batch, claims []Claim) error {
	extra := 0
	for _, c := range claims {
		if rl := l.rules[c.Rule]; rl != nil && rl.images != nil && c.Images > 0 {
			extra++
		}
	}
	b.grow(len(claims) + extra)
	// The image rates follow the claims, as ops of their own under a key of their own.
	next := len(claims)
	for i, c := range claims {
		rl := l.rules[c.Rule]
		if c.Limits != nil {
			rl = &rule{name: c.Rule, req: c.Limits.Requests, tok: c.Limits.Tokens, budget: c.Limits.Budget,
				budgetNano: c.Limits.Budget.nanoUSD()}
		}
		if rl == nil {
			b.n = 0
			return fmt.Errorf("rate limit %q is not defined: claims must name a configured rule", c.Rule)
		}
		o := b.at(i)
		o.rule = rl
		o.key = hashKey(c.Rule, c.Key)
		if !rl.tok.IsZero() {
			o.tokens = int64(max(c.Tokens, 0))
		}
		if rl.budgetNano > 0 {
			o.spend = usdToNano(c.CostUSD)
		}
		if rl.images != nil && c.Images > 0 {
			io := b.at(next)
			next++
			io.rule, io.key, io.tokens = rl.images, hashKey(c.Rule+"\x00images", c.Key), int64(c.Images)
		}
		for j := 0; j < i; j++ {
			if b.at(j).key == o.key {
				b.n = 0
				return fmt.Errorf("rate limit %q is claimed twice for the same key in one request", c.Rule)
			}
		}
	}
	b.setTime(l.now())
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		o.spendStart = o.periodStart
	}
	return nil
}

// adjust applies the deltas set in b to the store.
func (l *Limiter) adjust(ctx context.Context, b *batch) error {
	if l.mem != nil {
		l.mem.adjustLocal(b)
		return nil
	}
	return adjustVia(ctx, l.store, *b)
}

// adjustVia calls a store through the interface with a copy of the batch. The request's cancellation is
// dropped: usage must be recorded even when the client has gone away by the time it is known.
func adjustVia(ctx context.Context, s Store, b batch) error {
	return s.adjust(context.WithoutCancel(ctx), &b)
}
