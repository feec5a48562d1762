package gateway

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults of the conversation store of Responses served through chat completions.
const (
	DefaultResponseStoreBytes = 64 << 20
	DefaultResponseStoreTTL   = time.Hour
)

// ResponseStore keeps the responses the gateway makes itself (the Responses API served through chat
// completions), so that a later request can continue one with previous_response_id and read it with GET
// …/responses/{id}. Implementations must be safe for concurrent use; they may forget an entry at any time
// (a client then gets a 400 previous_response_not_found, or a 404).
type ResponseStore interface {
	// Get returns the entry of id, or nil when there is none.
	Get(ctx context.Context, id string) (*StoredResponse, error)
	// Put keeps r, replacing any entry of the same id.
	Put(ctx context.Context, r *StoredResponse) error
	// Delete forgets id and reports whether it was kept.
	Delete(ctx context.Context, id string) (bool, error)
}

// StoredResponse is one kept response.
type StoredResponse struct {
	// ID is the response's id as the client got it.
	ID string
	// History is the conversation up to and including the response, as Responses input items (a JSON array):
	// what previous_response_id stands for. Its first InputCount items were the response's input.
	History    []byte
	InputCount int
	// Response is the Response object the client got.
	Response []byte
	// Owner is the identity of the client key that made it (Result.ClientKey; empty without client keys):
	// only requests with the same identity may continue, read or delete it.
	Owner string
}

func (s *StoredResponse) bytes() int {
	return len(s.ID) + len(s.History) + len(s.Response) + len(s.Owner) + 64
}

// MemoryResponseStore is a ResponseStore in this process's memory, bounded in bytes (the oldest entries go
// first) and in time.
type MemoryResponseStore struct {
	mu       sync.Mutex
	maxBytes int
	ttl      time.Duration
	size     int
	entries  map[string]*list.Element
	order    *list.List // of *memoryEntry, oldest first
	now      func() time.Time
}

type memoryEntry struct {
	r       *StoredResponse
	expires time.Time
}

// NewMemoryResponseStore returns a store of at most maxBytes (DefaultResponseStoreBytes when not positive)
// whose entries live ttl (DefaultResponseStoreTTL when not positive).
func NewMemoryResponseStore(maxBytes int, ttl time.Duration) *MemoryResponseStore {
	if maxBytes <= 0 {
		maxBytes = DefaultResponseStoreBytes
	}
	if ttl <= 0 {
		ttl = DefaultResponseStoreTTL
	}
	return &MemoryResponseStore{maxBytes: maxBytes, ttl: ttl, entries: map[string]*list.Element{}, order: list.New(), now: time.Now}
}

// Put implements ResponseStore. An entry larger than the whole store is not kept.
func (s *MemoryResponseStore) Put(_ context.Context, r *StoredResponse) error {
	if r.bytes() > s.maxBytes {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if e, ok := s.entries[r.ID]; ok {
		s.remove(e)
	}
	s.entries[r.ID] = s.order.PushBack(&memoryEntry{r: r, expires: now.Add(s.ttl)})
	s.size += r.bytes()
	for s.size > s.maxBytes || now.After(s.order.Front().Value.(*memoryEntry).expires) {
		s.remove(s.order.Front())
	}
	return nil
}

// Get implements ResponseStore.
func (s *MemoryResponseStore) Get(_ context.Context, id string) (*StoredResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil, nil
	}
	m := e.Value.(*memoryEntry)
	if s.now().After(m.expires) {
		s.remove(e)
		return nil, nil
	}
	return m.r, nil
}

// Delete implements ResponseStore.
func (s *MemoryResponseStore) Delete(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return false, nil
	}
	live := !s.now().After(e.Value.(*memoryEntry).expires)
	s.remove(e)
	return live, nil
}

func (s *MemoryResponseStore) remove(e *list.Element) {
	m := s.order.Remove(e).(*memoryEntry)
	delete(s.entries, m.r.ID)
	s.size -= m.r.bytes()
}
