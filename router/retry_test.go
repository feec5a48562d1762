package router

import (
	"testing"
	"time"
)

func TestRetryableStatuses(t *testing.T) {
	var def RetryPolicy
	for _, s := range []int{0, -1, 429, 500, 502, 503, 504, 529} {
		if !def.Retryable(s) {
			t.Errorf("default policy does not retry %d", s)
		}
	}
	for _, s := range []int{400, 401, 402, 403, 404, 413, 422, 501} {
		if def.Retryable(s) {
			t.Errorf("default policy retries %d", s)
		}
	}
	listed := RetryPolicy{Statuses: []int{401, 429}}
	if !listed.Retryable(401) || listed.Retryable(500) || !listed.Retryable(0) {
		t.Error("a configured list must replace the defaults, and connection errors stay retryable")
	}
}

func TestBackoffIsFullJitterUnderAnExponentialCap(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	almostOne := func() float64 { return 0.999999 }
	zero := func() float64 { return 0 }
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		if d := p.Backoff(attempt, 0, zero); d != 0 {
			t.Errorf("attempt %d with rnd 0: %v, want 0 (full jitter)", attempt, d)
		}
		if d := p.Backoff(attempt, 0, almostOne); d >= ceiling || d < ceiling*99/100 {
			t.Errorf("attempt %d with rnd→1: %v, want just under %v", attempt, d, ceiling)
		}
	}
	for range 1000 {
		if d := p.Backoff(3, 0, nil); d < 0 || d >= 400*time.Millisecond {
			t.Fatalf("random backoff %v outside [0, 400ms)", d)
		}
	}
	if d := p.Backoff(1, 0, func() float64 { return 7 }); d != 0 {
		t.Errorf("an out-of-range random value gave %v, want 0", d)
	}
}

func TestBackoffHonoursRetryAfterUpToTheCap(t *testing.T) {
	p := RetryPolicy{MaxRetryAfter: 5 * time.Second}
	if d := p.Backoff(1, 3*time.Second, nil); d != 3*time.Second {
		t.Errorf("retry-after 3s gave %v", d)
	}
	if d := p.Backoff(1, time.Minute, nil); d != 5*time.Second {
		t.Errorf("retry-after 1m gave %v, want the 5s cap", d)
	}
	if d := (RetryPolicy{}).Backoff(1, time.Hour, nil); d != DefaultMaxRetryAfter {
		t.Errorf("default cap: %v, want %v", d, DefaultMaxRetryAfter)
	}
}

func TestAgainRespectsAttemptsAndDeadline(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 3, Deadline: 10 * time.Second}
	if !p.Again(2, time.Second, time.Second) {
		t.Error("a third attempt well within the deadline was refused")
	}
	if p.Again(3, 0, 0) {
		t.Error("a fourth attempt was allowed with MaxAttempts 3")
	}
	if p.Again(1, 8*time.Second, 3*time.Second) {
		t.Error("a retry whose backoff ends after the deadline was allowed")
	}
}
