package usage

import (
	"math"

	"github.com/tidwall/gjson"
)

// MaxReportedTokens is the largest token count believed from an upstream: no exchange uses a billion tokens,
// so a larger number is a broken or hostile upstream, as is a negative or fractional one.
const MaxReportedTokens = 1_000_000_000

// Report reads the token counts of one usage object from upstream bytes. Every dialect builds its Usage
// through one, so a single rule decides what is believed: a count that is not an integer from 0 to
// MaxReportedTokens makes the whole report invalid, and Usage then returns the zero Usage (Unknown), which
// makes the gateway count the exchange itself instead of billing, limiting or exporting that number. The zero
// Report is ready to use; use one per usage object.
type Report struct {
	invalid bool
}

// Count returns v as a token count. An absent or null v reads as 0. Any other value that is not an integer
// from 0 to MaxReportedTokens (a string, a negative, fractional or absurd number) reads as 0 and marks the
// report invalid.
func (r *Report) Count(v gjson.Result) int {
	switch v.Type {
	case gjson.Null:
		return 0
	case gjson.Number:
		if f := v.Num; f >= 0 && f <= MaxReportedTokens && f == math.Trunc(f) {
			return int(f)
		}
	}
	r.invalid = true
	return 0
}

// Usage returns u, built from this report's counts, unchanged; or the zero Usage when one of those counts
// was invalid or a field of u (sums included) is not from 0 to MaxReportedTokens.
func (r *Report) Usage(u Usage) Usage {
	if r.invalid || !plausible(u) {
		return Usage{}
	}
	return u
}

// plausible reports whether every field of u is from 0 to MaxReportedTokens.
func plausible(u Usage) bool {
	for _, n := range [...]int{u.PromptTokens, u.CompletionTokens, u.TotalTokens, u.CachedTokens,
		u.CacheWriteTokens, u.CacheWrite1hTokens, u.ReasoningTokens} {
		if n < 0 || n > MaxReportedTokens {
			return false
		}
	}
	return true
}
