package gateway

import (
	"container/list"
	"sync"
	"time"
)

// Defaults of the conversation store of Responses served through chat completions.
const (
	DefaultResponseStoreBytes = 64 << 20
	DefaultResponseStoreTTL   = time.Hour
)

// responseStore keeps the responses the gateway made itself (the Responses API served through chat
// completions), so that a later request can continue one with previous_response_id and read it with GET
// …/responses/{id}. It lives in memory, bounded in bytes (the oldest entries go first) and in time. It is
// safe for concurrent use.
type responseStore struct {
	mu       sync.Mutex
	maxBytes int
	ttl      time.Duration
	size     int
	entries  map[string]*list.Element
	order    *list.List // of *storedResponse, oldest first
	now      func() time.Time
}

// storedResponse is one kept response.
type storedResponse struct {
	id string
	// history is the conversation up to and including the response, as Responses input items (a JSON
	// array): what previous_response_id stands for. inputCount is how many of them were its input.
	history    []byte
	inputCount int
	// response is the Response object the client got.
	response []byte
	expires  time.Time
}

func newResponseStore(maxBytes int, ttl time.Duration) *responseStore {
	if maxBytes <= 0 {
		maxBytes = DefaultResponseStoreBytes
	}
	if ttl <= 0 {
		ttl = DefaultResponseStoreTTL
	}
	return &responseStore{maxBytes: maxBytes, ttl: ttl, entries: map[string]*list.Element{}, order: list.New(), now: time.Now}
}

func (s *storedResponse) bytes() int { return len(s.id) + len(s.history) + len(s.response) + 64 }

// put keeps r (an entry larger than the whole store is not kept), evicting the oldest entries as needed.
func (s *responseStore) put(r *storedResponse) {
	if r.bytes() > s.maxBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.expires = s.now().Add(s.ttl)
	if e, ok := s.entries[r.id]; ok {
		s.remove(e)
	}
	s.entries[r.id] = s.order.PushBack(r)
	s.size += r.bytes()
	for s.size > s.maxBytes || s.now().After(s.order.Front().Value.(*storedResponse).expires) {
		s.remove(s.order.Front())
	}
}

// get returns the entry of id, or nil when there is none or it expired.
func (s *responseStore) get(id string) *storedResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil
	}
	r := e.Value.(*storedResponse)
	if s.now().After(r.expires) {
		s.remove(e)
		return nil
	}
	return r
}

// delete removes id and reports whether it was kept.
func (s *responseStore) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if ok {
		s.remove(e)
	}
	return ok
}

func (s *responseStore) remove(e *list.Element) {
	r := s.order.Remove(e).(*storedResponse)
	delete(s.entries, r.id)
	s.size -= r.bytes()
}
