package ratelimit

import (
	"strings"
	"testing"
)

func TestImagesRateCountsTheImagesAskedFor(t *testing.T) {
	l := mustLimiter(t, NewMemoryStore(), nil, Rule{Name: "art", Images: perMinute(5), Requests: perMinute(100)})
	// A chat request makes no images: the image rate does not see it.
	r := reserve(t, l, Claim{Rule: "art", Key: "k"})
	if !r.Allowed() {
		t.Fatalf("a request without images was refused: %+v", r.Denial())
	}
	_ = r.Settle(ctx, 100, 0)
	r = reserve(t, l, Claim{Rule: "art", Key: "k", Images: 4})
	if !r.Allowed() {
		t.Fatalf("4 of 5 images refused: %+v", r.Denial())
	}
	// Settle corrects tokens, never images: the 4 stay charged.
	_ = r.Settle(ctx, 0, 0)
	r = reserve(t, l, Claim{Rule: "art", Key: "k", Images: 2})
	d := r.Denial()
	if r.Allowed() || d.Kind != KindImages || d.Status() != 429 || d.Code() != "rate_limit_exceeded" ||
		!strings.Contains(d.Message(), "5 images per 1m (this request asks for 2)") {
		t.Fatalf("6 of 5 images: allowed %v, denial %+v %q", r.Allowed(), d, d.Message())
	}
	if h := r.Headers(); h.Tokens.Present {
		t.Errorf("the image rate shows as a token rate in the headers: %+v", h.Tokens)
	}
	r = reserve(t, l, Claim{Rule: "art", Key: "k", Images: 1})
	if !r.Allowed() {
		t.Fatalf("the fifth image refused: %+v", r.Denial())
	}
	// A cancelled request (never sent) gives its images back.
	_ = r.Cancel(ctx)
	if r = reserve(t, l, Claim{Rule: "art", Key: "other", Images: 9}); r.Allowed() || !strings.Contains(r.Denial().Message(), "lower n") {
		t.Errorf("9 images against a limit of 5: %q", r.Denial().Message())
	}
	if r = reserve(t, l, Claim{Rule: "art", Key: "k", Images: 1}); !r.Allowed() {
		t.Errorf("the image given back by Cancel is not available: %+v", r.Denial())
	}
}

func TestImagesOnlyRuleIsValid(t *testing.T) {
	if err := (Rule{Name: "x", Images: perMinute(1)}).Validate(); err != nil {
		t.Errorf("a rule of images alone: %v", err)
	}
	if err := (Rule{Name: "x"}).Validate(); err == nil || !strings.Contains(err.Error(), "images") {
		t.Errorf("a rule without limits: %v", err)
	}
}
