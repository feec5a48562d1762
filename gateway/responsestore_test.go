package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMemoryResponseStoreBounds(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	s := NewMemoryResponseStore(1000, time.Minute)
	s.now = func() time.Time { return now }
	entry := func(id string, n int) *StoredResponse {
		return &StoredResponse{ID: id, History: []byte("[" + strings.Repeat(" ", n) + "]"), Response: []byte("{}")}
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Put(ctx, entry(id, 300)); err != nil {
			t.Fatal(err)
		}
	}
	// Three entries of about 370 bytes do not fit in 1000: the oldest went.
	if r, _ := s.Get(ctx, "a"); r != nil {
		t.Error("the oldest entry is kept beyond the store's bytes")
	}
	if r, _ := s.Get(ctx, "c"); r == nil {
		t.Error("the newest entry is gone")
	}
	if s.Put(ctx, entry("huge", 2000)); func() bool { r, _ := s.Get(ctx, "huge"); return r != nil }() {
		t.Error("an entry larger than the store is kept")
	}
	now = now.Add(2 * time.Minute)
	if r, _ := s.Get(ctx, "c"); r != nil {
		t.Error("an expired entry is returned")
	}
	if ok, _ := s.Delete(ctx, "b"); ok {
		t.Error("an expired entry is deleted as if kept")
	}
	if s.size < 0 || s.size > 1000 {
		t.Errorf("size %d", s.size)
	}
}
