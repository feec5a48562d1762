package keys_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/ratelimit"
)

// BenchmarkKeyedRequest is what a virtual key adds to one request, without the upstream: looking the key up,
// reserving its limits and budget, settling them and recording its usage. With Redis that is four round
// trips (GET, the reserve script, the settle script, the usage transaction).
func BenchmarkKeyedRequest(b *testing.B) {
	for _, kind := range []string{"memory", "redis", "redis-cluster"} {
		b.Run(kind, func(b *testing.B) {
			st := benchStores(b, kind)
			m, err := keys.New(keys.Config{Store: st.keys, Counters: st.counters, AdminKeys: []string{adminKey}})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/keys",
				strings.NewReader(`{"name":"bench","requests":"100000000/1m","tokens":"1000000000/1m","limit":9000000}`))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, req)
			secret := gjson.Get(rec.Body.String(), "key").Str
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				k, err := m.Authenticate(ctx, secret)
				if err != nil {
					b.Fatal(err)
				}
				c, _ := m.Claim(k)
				c.Tokens, c.CostUSD = 1100, 0.001
				r, err := m.Limiter().Reserve(ctx, []ratelimit.Claim{c})
				if err != nil || !r.Allowed() {
					b.Fatalf("reserve: %v", err)
				}
				if err := r.Settle(ctx, 1000, 0.0009); err != nil {
					b.Fatal(err)
				}
				if err := m.Record(ctx, k, keys.Usage{Requests: 1, PromptTokens: 900, CompletionTokens: 100, CostUSD: 0.0009}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchStores(b *testing.B, kind string) stores {
	switch kind {
	case "memory":
		return stores{keys.NewMemoryStore(), ratelimit.NewMemoryStore()}
	case "redis":
		if server == nil {
			b.Skip(missing)
		}
		return benchRedis(b, ratelimit.RedisOptions{Address: server.Addr})
	}
	if cluster == nil {
		b.Skip(missing)
	}
	return benchRedis(b, ratelimit.RedisOptions{Addresses: cluster.Addrs, Cluster: true})
}

func benchRedis(b *testing.B, o ratelimit.RedisOptions) stores {
	o.Prefix = "aigwbench:" + b.Name() + ":"
	ks, err := keys.NewRedisStore(o)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := ratelimit.NewRedisStore(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ks.Destruct(); _ = cs.Destruct() })
	return stores{ks, cs}
}
