package router

import (
	"fmt"
	"sync/atomic"
	"time"
)

// BreakerConfig configures the circuit breaker kept for every target. A target trips after
// ConsecutiveFailures failures in a row, or when more than ErrorRate of at least MinRequests attempts in
// the current Window failed, or at once when a failed attempt carried a Retry-After. A tripped target is
// skipped for Cooldown (or for the Retry-After, up to MaxCooldown); then exactly one request probes it:
// success restores it, failure cools it down again. Zero fields take the defaults.
type BreakerConfig struct {
	// Disabled turns the breaker off: targets are never skipped.
	Disabled bool
	// ConsecutiveFailures trips the breaker after this many failures in a row (default 3).
	ConsecutiveFailures int
	// ErrorRate trips the breaker when the fraction of failed attempts in a window is over it (default 0.5).
	ErrorRate float64
	// Window is the span over which the error rate is measured (default 30s).
	Window time.Duration
	// MinRequests is how many attempts a window needs before its error rate counts (default 10).
	MinRequests int
	// Cooldown is how long a tripped target is skipped (default 10s).
	Cooldown time.Duration
	// MaxCooldown caps a cooldown taken from an upstream's Retry-After (default 60s).
	MaxCooldown time.Duration
	// ProbeTimeout is how long a probe may run before another request may probe the target (default 60s).
	ProbeTimeout time.Duration
}

// Breaker defaults.
const (
	DefaultConsecutiveFailures = 3
	DefaultErrorRate           = 0.5
	DefaultWindow              = 30 * time.Second
	DefaultMinRequests         = 10
	DefaultCooldown            = 10 * time.Second
	DefaultMaxCooldown         = 60 * time.Second
	DefaultProbeTimeout        = 60 * time.Second
)

func (c BreakerConfig) withDefaults() (BreakerConfig, error) {
	if c.ConsecutiveFailures < 0 || c.MinRequests < 0 || c.Window < 0 || c.Cooldown < 0 || c.MaxCooldown < 0 || c.ProbeTimeout < 0 {
		return c, fmt.Errorf("breaker settings must not be negative: use 0 for the default")
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 {
		return c, fmt.Errorf("breaker error rate %g is out of range: give a fraction between 0 and 1", c.ErrorRate)
	}
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.ErrorRate == 0 {
		c.ErrorRate = DefaultErrorRate
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultCooldown
	}
	if c.MaxCooldown == 0 {
		c.MaxCooldown = max(DefaultMaxCooldown, c.Cooldown)
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	return c, nil
}

// Breaker states, kept in the low bits of member.cool; the high bits hold the time (router nanoseconds)
// until which the state holds. Zero is closed: the target is healthy.
const (
	stateOpen    = 1 // cooling down until the stored time
	stateProbing = 2 // a probe runs; another may start after the stored time
	stateBits    = 2
)

// Window counters packed in member.window: window id, attempts and failures.
const (
	countBits = 20
	countMax  = 1<<countBits - 1
	idMask    = 1<<(64-2*countBits) - 1
)

// ewmaShift sets the latency average's smoothing: each sample moves it by 1/2^ewmaShift of the difference.
const ewmaShift = 2

// member is the health state of one target, shared by every route that names it. All fields are
// atomics: selection reads them without locks.
type member struct {
	t Target
	// label is Target.Label: "provider/model" for a target the configuration names, else "provider/other".
	label    string
	inflight atomic.Int64
	// ttfb is the moving average of time to first byte in nanoseconds; 0 means no sample yet.
	ttfb   atomic.Int64
	cool   atomic.Uint64
	consec atomic.Int32
	window atomic.Uint64
	_      [64]byte // keeps neighbouring members' hot counters off this cache line
}

// Outcome is how one attempt ended, as the circuit breaker and the policies need it.
type Outcome struct {
	// Failed marks a failure of the upstream: a connection error, a timeout, or a status the retry policy
	// retries (429, 5xx). A client error such as 400 is not the upstream's fault: report it as not failed.
	Failed bool
	// TTFB is the time from sending the request to the upstream's first byte (first event when streaming);
	// zero when nothing arrived. It feeds PolicyLowestLatency.
	TTFB time.Duration
	// RetryAfter is the upstream's Retry-After on a failure; when set, the target cools down that long
	// (up to MaxCooldown) at once.
	RetryAfter time.Duration
}

// Attempt is one request in flight to a target. Call Done exactly once.
type Attempt struct {
	r     *Router
	m     *member
	probe bool
}

// Start records that a request to t begins and returns the handle to report its outcome. t normally
// comes from Plan.Next; a Target built by hand shares the health state of the same provider, model and key.
func (r *Router) Start(t Target) Attempt {
	m := t.m
	if m == nil {
		m = r.member(t)
	}
	m.inflight.Add(1)
	return Attempt{r: r, m: m, probe: t.probe}
}

// Done records the attempt's outcome: it ends the in-flight count, feeds the latency average and drives
// the circuit breaker.
func (a Attempt) Done(o Outcome) {
	m := a.m
	if m == nil {
		return
	}
	m.inflight.Add(-1)
	if o.TTFB > 0 {
		for {
			old := m.ttfb.Load()
			next := int64(o.TTFB)
			if old != 0 {
				next = old + (next-old)>>ewmaShift
			}
			if m.ttfb.CompareAndSwap(old, next) {
				break
			}
		}
	}
	b := &a.r.breaker
	if b.Disabled {
		return
	}
	now := a.r.nanos()
	overRate := a.r.count(m, now, o.Failed)
	if !o.Failed {
		m.consec.Store(0)
		if a.probe {
			for st := m.cool.Load(); st != 0; st = m.cool.Load() {
				if m.cool.CompareAndSwap(st, 0) {
					m.window.Store(0)
					break
				}
			}
		}
		return
	}
	consec := m.consec.Add(1)
	cooldown := b.Cooldown
	if o.RetryAfter > 0 {
		cooldown = min(o.RetryAfter, b.MaxCooldown)
	}
	open := uint64(now+int64(cooldown))<<stateBits | stateOpen
	switch {
	case a.probe:
		m.cool.Store(open)
	case int(consec) >= b.ConsecutiveFailures || overRate || o.RetryAfter > 0:
		m.cool.CompareAndSwap(0, open)
	default:
		return
	}
	m.consec.Store(0)
	m.window.Store(0)
}

// count adds one attempt to m's current window and reports whether the window's error rate now trips
// the breaker.
func (r *Router) count(m *member, now int64, failed bool) bool {
	id := uint64(now/int64(r.breaker.Window)) & idMask
	for {
		old := m.window.Load()
		var reqs, fails uint64
		if old>>(2*countBits) == id {
			reqs, fails = old>>countBits&countMax, old&countMax
		}
		if reqs < countMax {
			reqs++
			if failed {
				fails++
			}
		}
		if m.window.CompareAndSwap(old, id<<(2*countBits)|reqs<<countBits|fails) {
			return failed && reqs >= uint64(r.breaker.MinRequests) && float64(fails) > r.breaker.ErrorRate*float64(reqs)
		}
	}
}

// nanos is the router clock: nanoseconds since New, never negative.
func (r *Router) nanos() int64 {
	return max(int64(r.now().Sub(r.epoch)), 0)
}

// Health is a snapshot of one target's state, for status pages and tests.
type Health struct {
	// InFlight is the number of attempts started and not done.
	InFlight int64
	// TTFB is the moving average of time to first byte; zero before the first sample.
	TTFB time.Duration
	// CoolingDown is true while the target is skipped (cooldown or a running probe).
	CoolingDown bool
}

// Health returns the current state of t.
func (r *Router) Health(t Target) Health {
	m := t.m
	if m == nil {
		r.mu.RLock()
		m = r.members[Target{Provider: t.Provider, Model: t.Model, Key: t.Key}]
		r.mu.RUnlock()
	}
	if m == nil {
		return Health{}
	}
	st := m.cool.Load()
	return Health{
		InFlight:    m.inflight.Load(),
		TTFB:        time.Duration(m.ttfb.Load()),
		CoolingDown: st != 0 && int64(st>>stateBits) > r.nanos(),
	}
}
