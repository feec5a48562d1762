package ratelimit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	good := map[string]Rate{
		"60/1m":      {60, time.Minute},
		"200000/1m":  {200000, time.Minute},
		"10/30s":     {10, 30 * time.Second},
		"5000/1d":    {5000, 24 * time.Hour},
		"100/1h30m":  {100, 90 * time.Minute},
		" 7/1m0s ":   {7, time.Minute},
		"1/500ms":    {1, 500 * time.Millisecond},
		"1000000/7d": {1000000, 7 * 24 * time.Hour},
	}
	for in, want := range good {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"60":       "want <limit>/<window>",
		"60/":      "window",
		"0/1m":     "positive whole number",
		"-5/1m":    "positive whole number",
		"1.5/1m":   "positive whole number",
		"60/1x":    "window",
		"60/0s":    "shorter than",
		"60/-1m":   "shorter than",
		"60/1mo":   "window",
		"abc/1m":   "positive whole number",
		"60/1000d": "",
	}
	for in, msg := range bad {
		_, err := ParseRate(in)
		if in == "60/1000d" {
			if err != nil {
				t.Errorf("ParseRate(%q): %v", in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseRate(%q) error %v: want it to quote the input and say %q", in, err, msg)
		}
	}
}

func TestParseBudget(t *testing.T) {
	good := map[string]Budget{
		"25usd/1mo":   {25, Month},
		"0.50usd/1d":  {0.5, Day},
		"100USD/1h":   {100, Hour},
		"1usd/1m":     {1, Minute},
		"3usd/month":  {3, Month},
		"1000usd/day": {1000, Day},
	}
	for in, want := range good {
		got, err := ParseBudget(in)
		if err != nil || got != want {
			t.Errorf("ParseBudget(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"25":             "want <amount>usd/<period>",
		"25/1mo":         "must end in usd",
		"25eur/1mo":      "must end in usd",
		"usd/1mo":        "positive number",
		"0usd/1mo":       "positive number",
		"-1usd/1mo":      "positive number",
		"NaNusd/1mo":     "positive number",
		"25usd/2mo":      "want 1m, 1h, 1d or 1mo",
		"25usd/1w":       "want 1m, 1h, 1d or 1mo",
		"99999999usd/1d": "at most",
	}
	for in, msg := range bad {
		_, err := ParseBudget(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseBudget(%q) error %v: want %q", in, err, msg)
		}
	}
}

func TestPeriodBoundsAreCalendarUTC(t *testing.T) {
	cases := []struct {
		p          Period
		at         string
		start, end string
	}{
		{Month, "2026-01-31T23:59:59Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
		{Month, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{Month, "2026-12-15T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, "2026-03-01T01:30:00+02:00", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{Day, "2026-03-10T23:59:59-05:00", "2026-03-11T00:00:00Z", "2026-03-12T00:00:00Z"},
		{Hour, "2026-03-10T10:59:59Z", "2026-03-10T10:00:00Z", "2026-03-10T11:00:00Z"},
		{Minute, "2026-03-10T10:59:59Z", "2026-03-10T10:59:00Z", "2026-03-10T11:00:00Z"},
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.at)
		s, e := c.p.Bounds(at)
		if got := s.Format(time.RFC3339) + " " + e.Format(time.RFC3339); got != c.start+" "+c.end {
			t.Errorf("%s bounds of %s = %s, want %s %s", c.p, c.at, got, c.start, c.end)
		}
	}
}

func TestRuleJSONUsesCaddyfileForms(t *testing.T) {
	var r Rule
	in := `{"name":"per-key","requests":"60/1m","tokens":"200000/1h0m0s","budget":"25usd/1mo"}`
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	if want := `{"name":"per-key","requests":"60/1m","tokens":"200000/1h","budget":"25usd/1mo"}`; string(out) != want {
		t.Fatalf("round trip: %s, want %s", out, want)
	}
	out, _ = json.Marshal(Rule{Name: "only-budget", Budget: Budget{USD: 0.5, Period: Day}})
	if want := `{"name":"only-budget","budget":"0.5usd/1d"}`; string(out) != want {
		t.Fatalf("unset limits: %s, want %s", out, want)
	}
	if err := json.Unmarshal([]byte(`{"name":"x","requests":"60 per minute"}`), &r); err == nil {
		t.Fatal("a malformed rate in JSON was accepted")
	}
}

func TestParseStoreErrorPolicy(t *testing.T) {
	if p, err := ParseStoreErrorPolicy("deny"); err != nil || p != DenyOnStoreError {
		t.Fatalf("deny: %v %v", p, err)
	}
	if p, err := ParseStoreErrorPolicy("allow"); err != nil || p != AllowOnStoreError {
		t.Fatalf("allow: %v %v", p, err)
	}
	if _, err := ParseStoreErrorPolicy("block"); err == nil || !strings.Contains(err.Error(), "allow or deny") {
		t.Fatalf("block: %v", err)
	}
}
