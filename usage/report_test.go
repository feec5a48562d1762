package usage

import (
	"testing"

	"github.com/tidwall/gjson"
)

// An upstream's usage object is believed only when every count is an integer from 0 to MaxReportedTokens:
// one negative, fractional, textual or absurd count makes the whole report unknown, so the gateway counts
// the exchange itself (issue #10, item 4).
func TestReportRejectsImplausibleCounts(t *testing.T) {
	read := func(obj string) Usage {
		var r Report
		v := gjson.Parse(obj)
		u := Usage{
			PromptTokens:     r.Count(v.Get("prompt")),
			CompletionTokens: r.Count(v.Get("completion")),
			CachedTokens:     r.Count(v.Get("cached")),
			Origin:           Reported,
		}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		return r.Usage(u)
	}
	for obj, want := range map[string]Usage{
		`{"prompt":12,"completion":3}`:                   {PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15, Origin: Reported},
		`{"prompt":12,"completion":3,"cached":null}`:     {PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15, Origin: Reported},
		`{"prompt":12.0,"completion":0}`:                 {PromptTokens: 12, TotalTokens: 12, Origin: Reported},
		`{"prompt":1000000000,"completion":0}`:           {PromptTokens: 1e9, TotalTokens: 1e9, Origin: Reported},
		`{"prompt":-1000000,"completion":3}`:             {},
		`{"prompt":12,"completion":-1}`:                  {},
		`{"prompt":12.5,"completion":3}`:                 {},
		`{"prompt":"12","completion":3}`:                 {},
		`{"prompt":true,"completion":3}`:                 {},
		`{"prompt":{},"completion":3}`:                   {},
		`{"prompt":1000000001,"completion":3}`:           {},
		`{"prompt":1e300,"completion":3}`:                {},
		`{"prompt":99999999999999999999,"completion":3}`: {},
		`{"prompt":12,"completion":3,"cached":-5}`:       {},
		// Each count is plausible, their sum is not.
		`{"prompt":900000000,"completion":900000000}`: {},
	} {
		if got := read(obj); got != want {
			t.Errorf("%s: got %+v, want %+v", obj, got, want)
		}
	}
}

// Usage also refuses a Usage whose fields were computed into nonsense, whatever the counts read.
func TestReportUsageChecksEveryField(t *testing.T) {
	for _, u := range []Usage{
		{PromptTokens: -1, Origin: Reported},
		{CompletionTokens: -1, Origin: Reported},
		{TotalTokens: -1, Origin: Reported},
		{CachedTokens: -1, Origin: Reported},
		{CacheWriteTokens: -1, Origin: Reported},
		{ReasoningTokens: -1, Origin: Reported},
		{ReasoningTokens: MaxReportedTokens + 1, Origin: Reported},
	} {
		var r Report
		if got := r.Usage(u); got.Known() {
			t.Errorf("%+v was accepted as %+v", u, got)
		}
	}
	var r Report
	if got := r.Usage(Usage{}); got != (Usage{}) {
		t.Errorf("an empty report became %+v", got)
	}
}
