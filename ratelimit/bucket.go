package ratelimit

// bucket is the state of one rate for one key: GCRA in its continuous-state leaky bucket form. level is the
// number of units in the bucket at time at (Unix nanoseconds); the bucket drains at Limit units per Window
// and a charge of n units fits while level+n <= Limit. The Redis script does the same arithmetic.
type bucket struct {
	level float64
	at    int64
}

// levelAt returns the level after draining until now. A clock behind the last update (another gateway's clock
// running ahead) drains nothing rather than refilling twice.
func (b bucket) levelAt(now int64, r Rate) float64 {
	if b.level <= 0 {
		return 0
	}
	if now <= b.at {
		return b.level
	}
	l := b.level - float64(now-b.at)*float64(r.Limit)/float64(r.Window)
	if l < 0 {
		return 0
	}
	return l
}

// set records level as of now, never moving the update time backwards.
func (b *bucket) set(level float64, now int64) {
	b.level = max(level, 0)
	b.at = max(b.at, now)
}

// emptyAt returns when the bucket will have drained completely.
func (b bucket) emptyAt(r Rate) int64 {
	if b.level <= 0 || r.Limit <= 0 {
		return b.at
	}
	return b.at + int64(b.level*float64(r.Window)/float64(r.Limit)) + 1
}
