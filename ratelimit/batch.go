package ratelimit

import "time"

// inlineClaims is how many claims a Reservation holds without allocating; more spill to the heap.
const inlineClaims = 4

// op is one claim as the stores see it: which counters, what to charge, and the levels they report back.
type op struct {
	rule *rule
	key  keyHash
	// tokens is what Reserve charged to the token rate.
	tokens int64
	// spend is what Reserve charged to the budget (nano-USD), in the period starting at spendStart.
	spend, spendStart int64
	// periodStart and periodEnd bound the budget period (Unix nanoseconds) at the batch's time.
	periodStart, periodEnd int64

	// reqLevel and tokLevel are set by reserve: the levels after the charge, or before it when refused;
	// spent is the budget's spend (settled and reserved, nano-USD) likewise.
	reqLevel, tokLevel float64
	spent              int64
	// reqDelta, tokDelta and spendDelta are read by adjust: units (nano-USD) to add (negative: give back).
	reqDelta, tokDelta float64
	spendDelta         int64
}

// batch is the claims of one request, handled by a store in one atomic step.
type batch struct {
	// now is the limiter's clock in Unix nanoseconds.
	now    int64
	n      int
	inline [inlineClaims]op
	extra  []op
}

func (b *batch) at(i int) *op {
	if i < inlineClaims {
		return &b.inline[i]
	}
	return &b.extra[i-inlineClaims]
}

func (b *batch) grow(n int) {
	b.n = n
	if n > inlineClaims {
		b.extra = make([]op, n-inlineClaims)
	}
}

// setTime sets the batch's clock and the budget periods that contain it.
func (b *batch) setTime(now time.Time) {
	b.now = now.UnixNano()
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		if o.rule.budgetNano > 0 {
			o.periodStart, o.periodEnd = o.rule.periodAt(now)
		}
	}
}
