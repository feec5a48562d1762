package router

import "math/bits"

// choose returns the index of the slot of t that pol picks among the eligible ones (a non-empty bitmask).
func (r *Router) choose(pol policy, t *tier, eligible uint64) int {
	switch pol {
	case roundRobin:
		return chooseRoundRobin(t, eligible)
	case leastBusy:
		return r.chooseMin(t, eligible, false)
	case lowestLatency:
		return r.chooseMin(t, eligible, true)
	}
	return r.chooseWeighted(t, eligible)
}

// chooseWeighted picks at random in proportion to the slots' weights.
func (r *Router) chooseWeighted(t *tier, eligible uint64) int {
	if eligible&(eligible-1) == 0 {
		return bits.TrailingZeros64(eligible)
	}
	var sum float64
	for e := eligible; e != 0; e &= e - 1 {
		sum += t.slots[bits.TrailingZeros64(e)].weight
	}
	x := float64(r.rand()>>11) * 0x1p-53 * sum
	last := 0
	for e := eligible; e != 0; e &= e - 1 {
		last = bits.TrailingZeros64(e)
		if x -= t.slots[last].weight; x < 0 {
			return last
		}
	}
	return last
}

// chooseRoundRobin takes the first eligible slot at or after the tier's cursor, and advances the cursor.
func chooseRoundRobin(t *tier, eligible uint64) int {
	n := uint32(len(t.slots))
	start := (t.cursor.Add(1) - 1) % n
	rotated := bits.RotateLeft64(eligible, -int(start))
	return (int(start) + bits.TrailingZeros64(rotated)) & 63
}

// chooseMin takes the eligible slot with the fewest requests in flight, or with the lowest latency
// average when byLatency, breaking ties from a random starting slot so that equally good targets share
// the load.
func (r *Router) chooseMin(t *tier, eligible uint64, byLatency bool) int {
	if eligible&(eligible-1) == 0 {
		return bits.TrailingZeros64(eligible)
	}
	n := len(t.slots)
	hi, _ := bits.Mul64(r.rand(), uint64(n))
	start := int(hi)
	best, bestScore := -1, int64(0)
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if eligible&(1<<i) == 0 {
			continue
		}
		m := t.slots[i].m
		s := m.inflight.Load()
		if byLatency {
			s = m.ttfb.Load()
		}
		if best < 0 || s < bestScore {
			best, bestScore = i, s
		}
	}
	return best
}
