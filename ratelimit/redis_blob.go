package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// The gateway keeps a little other state that several instances share through the same Redis as their
// limits: stored responses of the Responses API served through chat. It lives under <prefix>blob:<key>.

// SetBlob stores value under key for ttl.
func (s *RedisStore) SetBlob(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.client.Set(ctx, s.prefix+"blob:"+key, value, ttl).Err()
}

// GetBlob returns the value stored under key, or nil when there is none.
func (s *RedisStore) GetBlob(ctx context.Context, key string) ([]byte, error) {
	b, err := s.client.Get(ctx, s.prefix+"blob:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// DeleteBlob removes key and reports whether it was stored.
func (s *RedisStore) DeleteBlob(ctx context.Context, key string) (bool, error) {
	n, err := s.client.Del(ctx, s.prefix+"blob:"+key).Result()
	return n > 0, err
}
