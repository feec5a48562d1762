package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// RedisStore keeps keys in Redis (one server, Sentinel or a Cluster), shared by every gateway using the same
// prefix. A key is the JSON string <prefix>vk:{<id>}; its usage is in the hashes <prefix>vk:{<id>}:d:<yyyymmdd>
// (kept 400 days) and <prefix>vk:{<id>}:p:<period start> (kept until 35 days after the period's start); the
// sorted set <prefix>vk:index lists the ids by creation time. The braces are a hash tag: everything of one key
// is in one slot of a cluster, so each command or transaction touches one slot.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore returns a store over the Redis described by o. It does not connect yet.
func NewRedisStore(o ratelimit.RedisOptions) (*RedisStore, error) {
	c, err := ratelimit.NewRedisClient(o)
	if err != nil {
		return nil, err
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = "aigw:"
	}
	return &RedisStore{client: c, prefix: prefix}, nil
}

// Ping checks that Redis answers.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis virtual key store: %w", err)
	}
	return nil
}

// Destruct closes the connections.
func (s *RedisStore) Destruct() error { return s.client.Close() }

func (s *RedisStore) keyOf(id string) string { return s.prefix + "vk:{" + id + "}" }
func (s *RedisStore) index() string          { return s.prefix + "vk:index" }

var errDuplicate = errors.New("a virtual key with this id exists")

// Create implements Store. The id goes into the index first: a gateway that fails half-way leaves an index
// entry without a key (List skips it), never a working key that no list shows.
func (s *RedisStore) Create(ctx context.Context, k *Key) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if n, err := s.client.Exists(ctx, s.keyOf(k.ID)).Result(); err != nil || n > 0 {
		if err == nil {
			err = errDuplicate
		}
		return err
	}
	// Scores come from a counter, not the clock: keys created in the same instant keep their order.
	seq, err := s.client.Incr(ctx, s.index()+":seq").Result()
	if err != nil {
		return err
	}
	if err := s.client.ZAdd(ctx, s.index(), redis.Z{Score: float64(seq), Member: k.ID}).Err(); err != nil {
		return err
	}
	ok, err := s.client.SetNX(ctx, s.keyOf(k.ID), b, 0).Result()
	if err == nil && !ok {
		err = errDuplicate
	}
	return err
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, id string) (*Key, error) {
	b, err := s.client.Get(ctx, s.keyOf(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeKey(b)
}

func decodeKey(b []byte) (*Key, error) {
	k := new(Key)
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("virtual key record is not valid: %v", err)
	}
	return k, nil
}

// List implements Store.
func (s *RedisStore) List(ctx context.Context, offset, limit int) ([]*Key, int, error) {
	total, err := s.client.ZCard(ctx, s.index()).Result()
	if err != nil {
		return nil, 0, err
	}
	ids, err := s.client.ZRange(ctx, s.index(), int64(offset), int64(offset+limit-1)).Result()
	if err != nil || len(ids) == 0 {
		return nil, int(total), err
	}
	// One GET per key in a pipeline, not an MGET: on a cluster the keys are in different slots.
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.keyOf(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, err
	}
	out := make([]*Key, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, 0, err
		}
		k, err := decodeKey(b)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, k)
	}
	return out, int(total), nil
}

// casScript replaces KEYS[1] with ARGV[2] if it still holds ARGV[1].
var casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// Update implements Store with a compare-and-set, retried when another gateway changed the key meanwhile.
func (s *RedisStore) Update(ctx context.Context, id string, change func(*Key) error) (*Key, error) {
	for range 10 {
		old, err := s.client.Get(ctx, s.keyOf(id)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		k, err := decodeKey(old)
		if err != nil {
			return nil, err
		}
		if err := change(k); err != nil {
			return nil, err
		}
		b, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		done, err := casScript.Run(ctx, s.client, []string{s.keyOf(id)}, old, b).Int()
		if err != nil {
			return nil, err
		}
		if done == 1 {
			return k, nil
		}
	}
	return nil, errors.New("virtual key is being changed by others: retry")
}

// Delete implements Store. The key's usage hashes are left to expire.
func (s *RedisStore) Delete(ctx context.Context, id string) error {
	n, err := s.client.Del(ctx, s.keyOf(id)).Result()
	if err != nil {
		return err
	}
	if err := s.client.ZRem(ctx, s.index(), id).Err(); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// AddUsage implements Store: one transaction on the key's slot.
func (s *RedisStore) AddUsage(ctx context.Context, id string, at, periodStart time.Time, u Usage) error {
	nano := int64(u.CostUSD*1e9 + 0.5)
	dayKey := s.keyOf(id) + ":d:" + day(at)
	periodKey := s.keyOf(id) + ":p:" + periodName(periodStart)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range []string{dayKey, periodKey} {
			p.HIncrBy(ctx, k, "r", u.Requests)
			p.HIncrBy(ctx, k, "pt", u.PromptTokens)
			p.HIncrBy(ctx, k, "ct", u.CompletionTokens)
			p.HIncrBy(ctx, k, "c", nano)
		}
		p.Expire(ctx, dayKey, (maxDays+1)*24*time.Hour)
		p.ExpireAt(ctx, periodKey, periodStart.Add(35*24*time.Hour))
		return nil
	})
	return err
}

// Usage implements Store: one pipeline on the key's slot.
func (s *RedisStore) Usage(ctx context.Context, id string, days []string, periodStart time.Time) ([]Usage, Usage, error) {
	cmds := make([]*redis.SliceCmd, len(days)+1)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HMGet(ctx, s.keyOf(id)+":d:"+d, "r", "pt", "ct", "c")
		}
		cmds[len(days)] = p.HMGet(ctx, s.keyOf(id)+":p:"+periodName(periodStart), "r", "pt", "ct", "c")
		return nil
	})
	if err != nil {
		return nil, Usage{}, err
	}
	out := make([]Usage, len(days))
	for i := range days {
		out[i] = usageOf(cmds[i].Val())
	}
	return out, usageOf(cmds[len(days)].Val()), nil
}

func usageOf(v []any) Usage {
	n := func(i int) int64 {
		if i >= len(v) {
			return 0
		}
		s, _ := v[i].(string)
		x, _ := strconv.ParseInt(s, 10, 64)
		return x
	}
	return Usage{Requests: n(0), PromptTokens: n(1), CompletionTokens: n(2), CostUSD: float64(n(3)) / 1e9}
}
