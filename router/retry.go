package router

import (
	"math/rand/v2"
	"slices"
	"time"
)

// RetryPolicy says which failed attempts are retried, how often and after how long. Zero fields take
// the defaults. The next attempt goes to another target when the plan has one (Plan.Next).
type RetryPolicy struct {
	// Statuses are the upstream HTTP statuses worth another attempt; empty means 429, 500, 502, 503, 504
	// and 529. 401, 402 and 403 are retried only when listed (e.g. to move on from a revoked key).
	// Connection errors and timeouts are always retried.
	Statuses []int
	// MaxAttempts bounds the attempts of one request, the first included (default 3).
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; it doubles with each further one (default 250ms).
	BaseDelay time.Duration
	// MaxDelay caps the exponential backoff (default 4s).
	MaxDelay time.Duration
	// MaxRetryAfter caps the wait an upstream asks for with retry-after / retry-after-ms (default 5s). The
	// gateway does not retry a target that asks for a longer rest: the client gets the error and its
	// retry-after, rather than a request held open.
	MaxRetryAfter time.Duration
	// Deadline bounds the whole request: no attempt starts, and no backoff ends, later than this after
	// the request arrived (default 60s).
	Deadline time.Duration
}

// Retry defaults.
const (
	DefaultMaxAttempts   = 3
	DefaultBaseDelay     = 250 * time.Millisecond
	DefaultMaxDelay      = 4 * time.Second
	DefaultMaxRetryAfter = 5 * time.Second
	DefaultDeadline      = 60 * time.Second
)

// WithDefaults returns p with every zero field set to its default.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.Deadline <= 0 {
		p.Deadline = DefaultDeadline
	}
	return p
}

// Retryable reports whether an attempt that ended with status deserves another attempt. A status of 0
// (or below) stands for no response at all: a connection error or a timeout, always retryable.
func (p RetryPolicy) Retryable(status int) bool {
	if status <= 0 {
		return true
	}
	if len(p.Statuses) > 0 {
		return slices.Contains(p.Statuses, status)
	}
	switch status {
	case 429, 500, 502, 503, 504, 529:
		return true
	}
	return false
}

// Backoff returns how long to wait before the retry that follows attempt number attempt (1 after the
// first attempt failed). Without retryAfter it is exponential with full jitter: uniform in
// [0, min(MaxDelay, BaseDelay*2^(attempt-1))). A positive retryAfter from the upstream is honoured
// instead, capped at MaxRetryAfter. rnd returns a float in [0, 1); nil means math/rand/v2. When the
// retry goes to a different target, the caller may skip a wait that retryAfter asked for.
func (p RetryPolicy) Backoff(attempt int, retryAfter time.Duration, rnd func() float64) time.Duration {
	p = p.WithDefaults()
	if retryAfter > 0 {
		return min(retryAfter, p.MaxRetryAfter)
	}
	ceiling := p.BaseDelay
	for i := 1; i < attempt && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	if rnd == nil {
		rnd = rand.Float64
	}
	f := rnd()
	if f < 0 || f >= 1 {
		f = 0
	}
	return time.Duration(f * float64(ceiling))
}

// Again reports whether another attempt may start: fewer than MaxAttempts were made, and waiting wait
// after elapsed (time since the request arrived) still ends before Deadline.
func (p RetryPolicy) Again(attempts int, elapsed, wait time.Duration) bool {
	p = p.WithDefaults()
	return attempts < p.MaxAttempts && elapsed+wait < p.Deadline
}
