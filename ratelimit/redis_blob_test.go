package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestRedisBlobs(t *testing.T) {
	s := newRedisStore(t, redisOptions(t))
	ctx := context.Background()
	if b, err := s.GetBlob(ctx, "k"); b != nil || err != nil {
		t.Fatalf("missing blob: %q %v", b, err)
	}
	if err := s.SetBlob(ctx, "k", []byte(`{"a":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := s.GetBlob(ctx, "k"); string(b) != `{"a":1}` || err != nil {
		t.Fatalf("blob %q %v", b, err)
	}
	if ttl := s.client.TTL(ctx, s.prefix+"blob:k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("ttl %v", ttl)
	}
	if ok, err := s.DeleteBlob(ctx, "k"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, _ := s.DeleteBlob(ctx, "k"); ok {
		t.Error("deleting twice reports a blob")
	}
}
