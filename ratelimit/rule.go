package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rule is one named limit as configured by a rate_limit block. Any of Requests, Tokens and Budget may be
// set; the ones left zero do not apply. A request is charged against a Rule through a Claim that names it.
type Rule struct {
	// Name identifies the rule in claims, logs and error messages. It also scopes the counters: two rules
	// never share counters, even for the same key.
	Name string `json:"name"`
	// Requests caps the number of requests per window, e.g. 60/1m.
	Requests Rate `json:"requests,omitzero"`
	// Tokens caps the number of tokens (prompt plus completion) per window, e.g. 200000/1m.
	Tokens Rate `json:"tokens,omitzero"`
	// Budget caps the spend in USD per calendar period, e.g. 25usd/1mo.
	Budget Budget `json:"budget,omitzero"`
	// Images caps the number of images generated per window, e.g. 100/1d: each image request is charged
	// the n images it asks for (other requests are not charged).
	Images Rate `json:"images,omitzero"`
}

// Validate reports what is wrong with the rule, if anything.
func (r Rule) Validate() error {
	if r.Name == "" {
		return errors.New("rate limit rule has no name: give every rate_limit block a name")
	}
	if r.Requests.IsZero() && r.Tokens.IsZero() && r.Budget.IsZero() && r.Images.IsZero() {
		return fmt.Errorf("rate limit %q sets no limit: add requests, tokens, budget or images", r.Name)
	}
	if err := r.Images.validate(); err != nil {
		return fmt.Errorf("rate limit %q: images: %w", r.Name, err)
	}
	if err := r.Requests.validate(); err != nil {
		return fmt.Errorf("rate limit %q: requests: %w", r.Name, err)
	}
	if err := r.Tokens.validate(); err != nil {
		return fmt.Errorf("rate limit %q: tokens: %w", r.Name, err)
	}
	if err := r.Budget.validate(); err != nil {
		return fmt.Errorf("rate limit %q: budget: %w", r.Name, err)
	}
	return nil
}

// Rate is a number of units (requests or tokens) per sliding window. Its text form is `<limit>/<window>`,
// e.g. `60/1m` or `1000000/1d`.
type Rate struct {
	// Limit is the number of units allowed per Window; it is also the largest burst.
	Limit int64
	// Window is the time in which a fully used limit is replenished.
	Window time.Duration
}

// minWindow keeps windows measurable at the microsecond resolution of the Redis store.
const minWindow = time.Millisecond

// ParseRate parses the Caddyfile form `<limit>/<window>`, e.g. `60/1m`, `200000/1h` or `5000/1d`. The window
// is a Go duration (`30s`, `1m`, `1h30m`) or a number of days (`1d`).
func ParseRate(s string) (Rate, error) {
	count, window, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want <limit>/<window>, e.g. 60/1m", s)
	}
	limit, err := strconv.ParseInt(count, 10, 64)
	if err != nil || limit <= 0 {
		return Rate{}, fmt.Errorf("rate %q: limit %q is not a positive whole number", s, count)
	}
	d, err := parseWindow(window)
	if err != nil {
		return Rate{}, fmt.Errorf("rate %q: %w", s, err)
	}
	r := Rate{Limit: limit, Window: d}
	if err := r.validate(); err != nil {
		return Rate{}, fmt.Errorf("rate %q: %w", s, err)
	}
	return r, nil
}

func parseWindow(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("window %q: want a positive number of days such as 1d, or a duration such as 1m", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("window %q: want a duration such as 30s, 1m, 1h or 1d", s)
	}
	return d, nil
}

// IsZero reports whether the rate is unset.
func (r Rate) IsZero() bool { return r == Rate{} }

func (r Rate) validate() error {
	if r.IsZero() {
		return nil
	}
	if r.Limit <= 0 {
		return fmt.Errorf("limit %d must be positive", r.Limit)
	}
	if r.Window < minWindow {
		return fmt.Errorf("window %s is shorter than %s", r.Window, minWindow)
	}
	return nil
}

// String returns the text form, e.g. `60/1m`.
func (r Rate) String() string {
	return strconv.FormatInt(r.Limit, 10) + "/" + formatWindow(r.Window)
}

// MarshalText encodes the rate in its text form, so JSON configs read `"requests": "60/1m"`.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes the text form accepted by ParseRate.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func formatWindow(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Period is a calendar period in UTC over which a budget's spend is summed. Spend starts again from zero at
// the start of each period: the start of each minute, hour, day (00:00 UTC) or month (the 1st, 00:00 UTC).
type Period uint8

const (
	// NoPeriod means no budget.
	NoPeriod Period = iota
	// Minute is a calendar minute.
	Minute
	// Hour is a calendar hour.
	Hour
	// Day is a calendar day in UTC.
	Day
	// Month is a calendar month in UTC, from the 1st at 00:00 to the 1st of the next month, whatever its length.
	Month
)

// String returns the period as written in a budget, e.g. `1mo`.
func (p Period) String() string {
	switch p {
	case Minute:
		return "1m"
	case Hour:
		return "1h"
	case Day:
		return "1d"
	case Month:
		return "1mo"
	}
	return ""
}

// Bounds returns the start and end of the period that contains t, in UTC.
func (p Period) Bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	switch p {
	case Minute:
		start = t.Truncate(time.Minute)
		return start, start.Add(time.Minute)
	case Hour:
		start = t.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case Day:
		y, m, d := t.Date()
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	case Month:
		y, m, _ := t.Date()
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
	return t, t
}

func parsePeriod(s string) (Period, error) {
	switch strings.ToLower(s) {
	case "1m", "m", "minute":
		return Minute, nil
	case "1h", "h", "hour":
		return Hour, nil
	case "1d", "d", "day":
		return Day, nil
	case "1mo", "mo", "month":
		return Month, nil
	}
	return NoPeriod, fmt.Errorf("period %q: want 1m, 1h, 1d or 1mo (a calendar minute, hour, day or month in UTC)", s)
}

// Budget is a spend cap in USD per calendar period. Its text form is `<amount>usd/<period>`, e.g. `25usd/1mo`.
type Budget struct {
	// USD is the spend allowed per period.
	USD float64
	// Period is the calendar period (UTC) after which spend starts again from zero.
	Period Period
}

// maxBudgetUSD keeps spend in nano-dollars exact in the Redis store's Lua numbers (doubles, 2^53).
const maxBudgetUSD = 9_000_000

// ParseBudget parses the Caddyfile form `<amount>usd/<period>`, e.g. `25usd/1mo` or `0.50usd/1d`, where the
// period is 1m, 1h, 1d or 1mo: a calendar minute, hour, day or month in UTC.
func ParseBudget(s string) (Budget, error) {
	amount, period, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Budget{}, fmt.Errorf("budget %q: want <amount>usd/<period>, e.g. 25usd/1mo", s)
	}
	num, ok := cutSuffixFold(amount, "usd")
	if !ok {
		return Budget{}, fmt.Errorf("budget %q: amount %q must end in usd, e.g. 25usd", s, amount)
	}
	usd, err := strconv.ParseFloat(num, 64)
	if err != nil || !(usd > 0) || math.IsInf(usd, 0) {
		return Budget{}, fmt.Errorf("budget %q: amount %q is not a positive number of dollars", s, num)
	}
	p, err := parsePeriod(period)
	if err != nil {
		return Budget{}, fmt.Errorf("budget %q: %w", s, err)
	}
	b := Budget{USD: usd, Period: p}
	if err := b.validate(); err != nil {
		return Budget{}, fmt.Errorf("budget %q: %w", s, err)
	}
	return b, nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || !strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

// IsZero reports whether the budget is unset.
func (b Budget) IsZero() bool { return b == Budget{} }

func (b Budget) validate() error {
	if b.IsZero() {
		return nil
	}
	if !(b.USD > 0) || b.USD > maxBudgetUSD {
		return fmt.Errorf("amount %v must be more than 0 and at most %d usd", b.USD, maxBudgetUSD)
	}
	if b.Period < Minute || b.Period > Month {
		return errors.New("period must be 1m, 1h, 1d or 1mo")
	}
	return nil
}

// nanoUSD returns the budget in billionths of a dollar, the unit the stores count spend in.
func (b Budget) nanoUSD() int64 { return usdToNano(b.USD) }

func usdToNano(usd float64) int64 {
	if !(usd > 0) {
		return 0
	}
	if usd > maxBudgetUSD {
		usd = maxBudgetUSD
	}
	return int64(math.Round(usd * 1e9))
}

// String returns the text form, e.g. `25usd/1mo`.
func (b Budget) String() string {
	return strconv.FormatFloat(b.USD, 'f', -1, 64) + "usd/" + b.Period.String()
}

// MarshalText encodes the budget in its text form, so JSON configs read `"budget": "25usd/1mo"`.
func (b Budget) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText decodes the text form accepted by ParseBudget.
func (b *Budget) UnmarshalText(text []byte) error {
	v, err := ParseBudget(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
