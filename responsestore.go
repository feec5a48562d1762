package aigateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/gateway"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// provisionResponseStore picks where the responses the gateway makes through chat completions are kept:
// in the rate-limit store's Redis when rate_limit_store is redis (so every gateway sharing it can continue
// them), else in this process's memory, kept across config reloads.
func (h *Handler) provisionResponseStore(repl *caddy.Replacer) (gateway.ResponseStore, error) {
	if cfg := h.RateLimitStore; cfg != nil && cfg.Type == "redis" {
		key, build := redisStore(cfg, repl)
		val, _, err := stores.LoadOrNew(key, build)
		if err != nil {
			return nil, fmt.Errorf("rate_limit_store: %v", err)
		}
		h.responseStoreKey = key
		return redisResponses{store: val.(*ratelimit.RedisStore), ttl: gateway.DefaultResponseStoreTTL}, nil
	}
	const key = "responses|memory"
	val, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return memoryResponses{gateway.NewMemoryResponseStore(0, 0)}, nil
	})
	if err != nil {
		return nil, err
	}
	h.responseStoreKey = key
	return val.(memoryResponses).MemoryResponseStore, nil
}

// memoryResponses keeps a memory store in the usage pool.
type memoryResponses struct{ *gateway.MemoryResponseStore }

// Destruct implements caddy.Destructor: the memory is garbage.
func (memoryResponses) Destruct() error { return nil }

// redisResponses keeps stored responses in Redis, each under a hash of its id for ttl.
type redisResponses struct {
	store *ratelimit.RedisStore
	ttl   time.Duration
}

func responseKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "resp:" + hex.EncodeToString(sum[:])
}

// Put implements gateway.ResponseStore.
func (r redisResponses) Put(ctx context.Context, s *gateway.StoredResponse) error {
	b := make([]byte, 0, len(s.History)+len(s.Response)+len(s.ID)+64)
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, s.ID)
	b = append(b, `,"owner":`...)
	b = transform.AppendJSONString(b, s.Owner)
	b = append(b, `,"input_count":`...)
	b = strconv.AppendInt(b, int64(s.InputCount), 10)
	b = append(append(b, `,"history":`...), s.History...)
	b = append(append(b, `,"response":`...), s.Response...)
	return r.store.SetBlob(ctx, responseKey(s.ID), append(b, '}'), r.ttl)
}

// Get implements gateway.ResponseStore. An entry that is not what Put wrote (another program's, or one of
// another id) is none.
func (r redisResponses) Get(ctx context.Context, id string) (*gateway.StoredResponse, error) {
	b, err := r.store.GetBlob(ctx, responseKey(id))
	if err != nil || b == nil {
		return nil, err
	}
	if transform.CheckJSON(b) != nil {
		return nil, fmt.Errorf("stored response %s is not JSON", responseKey(id))
	}
	root := gjson.ParseBytes(b)
	hist, resp := root.Get("history"), root.Get("response")
	if root.Get("id").Str != id || !hist.IsArray() || !resp.IsObject() {
		return nil, nil
	}
	return &gateway.StoredResponse{ID: id, History: []byte(hist.Raw), InputCount: int(root.Get("input_count").Int()),
		Response: []byte(resp.Raw), Owner: root.Get("owner").Str}, nil
}

// Delete implements gateway.ResponseStore.
func (r redisResponses) Delete(ctx context.Context, id string) (bool, error) {
	return r.store.DeleteBlob(ctx, responseKey(id))
}
