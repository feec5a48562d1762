package keys

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Store keeps virtual keys and their usage. Every gateway reading the same store sees a change on its next
// request: nothing is cached.
type Store interface {
	// Create adds k; it fails when a key with its id exists.
	Create(ctx context.Context, k *Key) error
	// Get returns the key with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Key, error)
	// List returns up to limit keys from offset, oldest first, and how many keys there are.
	List(ctx context.Context, offset, limit int) ([]*Key, int, error)
	// Update applies change to the key with id atomically (a concurrent update is retried) and returns the
	// changed key, or ErrNotFound; change's error aborts the update.
	Update(ctx context.Context, id string, change func(*Key) error) (*Key, error)
	// Delete removes the key with id and its usage, or returns ErrNotFound.
	Delete(ctx context.Context, id string) error
	// AddUsage adds u to the key's usage of the day of at and of the period starting at periodStart.
	AddUsage(ctx context.Context, id string, at, periodStart time.Time, u Usage) error
	// Usage returns the key's usage on each of days (yyyymmdd) and in the period starting at periodStart.
	Usage(ctx context.Context, id string, days []string, periodStart time.Time) ([]Usage, Usage, error)
	// Destruct releases the store's resources.
	Destruct() error
}

// MemoryStore keeps keys in this process; kept in a caddy.UsagePool, it survives config reloads.
type MemoryStore struct {
	mu    sync.Mutex
	keys  map[string]*Key
	order []string
	// usage maps id to its buckets: "d<yyyymmdd>" per day, "p<unix start>" per period.
	usage map[string]map[string]*Usage
}

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{keys: make(map[string]*Key), usage: make(map[string]map[string]*Usage)}
}

// Create implements Store.
func (m *MemoryStore) Create(_ context.Context, k *Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.keys[k.ID]; dup {
		return errDuplicate
	}
	m.keys[k.ID] = clone(k)
	m.order = append(m.order, k.ID)
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, id string) (*Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	if k == nil {
		return nil, ErrNotFound
	}
	return clone(k), nil
}

// List implements Store.
func (m *MemoryStore) List(_ context.Context, offset, limit int) ([]*Key, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Key
	for i := offset; i < len(m.order) && len(out) < limit; i++ {
		out = append(out, clone(m.keys[m.order[i]]))
	}
	return out, len(m.order), nil
}

// Update implements Store.
func (m *MemoryStore) Update(_ context.Context, id string, change func(*Key) error) (*Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	if k == nil {
		return nil, ErrNotFound
	}
	c := clone(k)
	if err := change(c); err != nil {
		return nil, err
	}
	m.keys[id] = c
	return clone(c), nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[id] == nil {
		return ErrNotFound
	}
	delete(m.keys, id)
	delete(m.usage, id)
	m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == id })
	return nil
}

// AddUsage implements Store. Day buckets older than maxDays are dropped.
func (m *MemoryStore) AddUsage(_ context.Context, id string, at, periodStart time.Time, u Usage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[id] == nil {
		return nil
	}
	b := m.usage[id]
	if b == nil {
		b = make(map[string]*Usage)
		m.usage[id] = b
	}
	for _, name := range []string{"d" + day(at), "p" + periodName(periodStart)} {
		if b[name] == nil {
			b[name] = new(Usage)
		}
		b[name].add(u)
	}
	oldest := "d" + day(at.AddDate(0, 0, -maxDays))
	for name := range b {
		if name[0] == 'd' && name < oldest {
			delete(b, name)
		}
	}
	return nil
}

// Usage implements Store.
func (m *MemoryStore) Usage(_ context.Context, id string, days []string, periodStart time.Time) ([]Usage, Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Usage, len(days))
	b := m.usage[id]
	for i, d := range days {
		if u := b["d"+d]; u != nil {
			out[i] = *u
		}
	}
	var p Usage
	if u := b["p"+periodName(periodStart)]; u != nil {
		p = *u
	}
	return out, p, nil
}

// Destruct implements Store; the keys are dropped.
func (m *MemoryStore) Destruct() error {
	m.mu.Lock()
	clear(m.keys)
	clear(m.usage)
	m.order = nil
	m.mu.Unlock()
	return nil
}

// maxDays is how long daily usage is kept.
const maxDays = 400

func periodName(start time.Time) string { return start.UTC().Format("20060102T1504") }

func clone(k *Key) *Key {
	c := *k
	c.Models = slices.Clone(k.Models)
	if k.Metadata != nil {
		c.Metadata = make(map[string]string, len(k.Metadata))
		for n, v := range k.Metadata {
			c.Metadata[n] = v
		}
	}
	if k.ExpiresAt != nil {
		t := *k.ExpiresAt
		c.ExpiresAt = &t
	}
	return &c
}
