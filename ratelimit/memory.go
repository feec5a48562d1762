package ratelimit

import (
	"context"
	"sync"
)

// MemoryStore keeps counters in this process. One mutex makes every Reserve and Settle atomic across all its
// claims; each holds it for well under a microsecond.
//
// To keep counters across Caddy config reloads, keep the store in a caddy.UsagePool and build each config's
// Limiter over it with New: the store holds no limit values, so the new config's values apply to the old
// counters at once (a lowered limit may leave a key over it until its window drains). Entries whose buckets
// have drained and whose budget period has ended are dropped a few at a time as requests arrive.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[keyHash]*memEntry
	// keys lists the entries' keys in no order, for the sweep; cursor is the next one it examines.
	keys   []keyHash
	cursor int
}

// memEntry is the state of one rule for one key.
type memEntry struct {
	req, tok bucket
	// spent is the spend in nano-USD during the budget period starting at budgetStart (Unix nanoseconds).
	spent       int64
	budgetStart int64
	// idleAt is when the entry becomes equivalent to no entry at all.
	idleAt int64
	// index is the entry's position in MemoryStore.keys.
	index int
}

// sweepPerCall is how many entries each Reserve examines for expiry.
const sweepPerCall = 2

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: make(map[keyHash]*memEntry)}
}

// Destruct drops all counters. It implements caddy.Destructor.
func (m *MemoryStore) Destruct() error {
	m.mu.Lock()
	clear(m.entries)
	m.keys, m.cursor = nil, 0
	m.mu.Unlock()
	return nil
}

// Len returns the number of rule and key pairs that have counters.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *MemoryStore) reserve(_ context.Context, b *batch) (int, Kind, error) {
	denied, kind := m.reserveLocal(b)
	return denied, kind, nil
}

func (m *MemoryStore) adjust(_ context.Context, b *batch) error {
	m.adjustLocal(b)
	return nil
}

func (m *MemoryStore) reserveLocal(b *batch) (int, Kind) {
	now := b.now
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	denied, kind := 0, Kind(0)
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		var e memEntry
		if p := m.entries[o.key]; p != nil {
			e = *p
		}
		rl := o.rule
		if !rl.req.IsZero() {
			o.reqLevel = e.req.levelAt(now, rl.req)
			if kind == 0 && o.reqLevel+1 > float64(rl.req.Limit) {
				denied, kind = i, KindRequests
			}
		}
		if !rl.tok.IsZero() {
			o.tokLevel = e.tok.levelAt(now, rl.tok)
			if kind == 0 && o.tokLevel+float64(o.tokens) > float64(rl.tok.Limit) {
				denied, kind = i, KindTokens
			}
		}
		if rl.budgetNano > 0 {
			o.spent = 0
			if e.budgetStart == o.periodStart {
				o.spent = e.spent
			}
			if kind == 0 && (o.spent >= rl.budgetNano || o.spent+o.spend > rl.budgetNano) {
				denied, kind = i, KindBudget
			}
		}
	}
	if kind != 0 {
		return denied, kind
	}
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		e := m.entry(o.key)
		if !o.rule.req.IsZero() {
			o.reqLevel++
			e.req.set(o.reqLevel, now)
		}
		if !o.rule.tok.IsZero() {
			o.tokLevel += float64(o.tokens)
			e.tok.set(o.tokLevel, now)
		}
		if o.spend > 0 {
			if e.budgetStart != o.periodStart {
				e.budgetStart, e.spent = o.periodStart, 0
			}
			e.spent += o.spend
			o.spent = e.spent
		}
		e.touch(o)
	}
	return 0, 0
}

func (m *MemoryStore) adjustLocal(b *batch) {
	now := b.now
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i < b.n; i++ {
		o := b.at(i)
		rl := o.rule
		e := m.entries[o.key]
		if e == nil {
			if o.reqDelta <= 0 && o.tokDelta <= 0 && (o.spendDelta <= 0 || rl.budgetNano == 0) {
				continue
			}
			e = m.entry(o.key)
		}
		if !rl.req.IsZero() && o.reqDelta != 0 {
			e.req.set(e.req.levelAt(now, rl.req)+o.reqDelta, now)
		}
		if !rl.tok.IsZero() && o.tokDelta != 0 {
			e.tok.set(e.tok.levelAt(now, rl.tok)+o.tokDelta, now)
		}
		if rl.budgetNano > 0 && o.spendDelta != 0 {
			if e.budgetStart != o.periodStart {
				e.budgetStart, e.spent = o.periodStart, 0
			}
			e.spent = max(e.spent+o.spendDelta, 0)
		}
		e.touch(o)
	}
}

func (m *MemoryStore) entry(k keyHash) *memEntry {
	e := m.entries[k]
	if e == nil {
		e = &memEntry{index: len(m.keys)}
		m.entries[k] = e
		m.keys = append(m.keys, k)
	}
	return e
}

// touch recomputes when the entry becomes idle under the op's rule.
func (e *memEntry) touch(o *op) {
	idle := max(e.req.emptyAt(o.rule.req), e.tok.emptyAt(o.rule.tok))
	if e.spent > 0 && e.budgetStart == o.periodStart {
		idle = max(idle, o.periodEnd)
	}
	e.idleAt = idle
}

// sweep examines the next few entries in turn and drops the idle ones, so every entry is examined once per
// len/sweepPerCall reservations.
func (m *MemoryStore) sweep(now int64) {
	for range sweepPerCall {
		if len(m.keys) == 0 {
			return
		}
		if m.cursor >= len(m.keys) {
			m.cursor = 0
		}
		k := m.keys[m.cursor]
		if e := m.entries[k]; e.idleAt > now {
			m.cursor++
			continue
		}
		last := len(m.keys) - 1
		if m.cursor != last {
			moved := m.keys[last]
			m.keys[m.cursor] = moved
			m.entries[moved].index = m.cursor
		}
		m.keys = m.keys[:last]
		delete(m.entries, k)
	}
}
