package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func benchRules() []Rule {
	return []Rule{{
		Name:     "per-key",
		Requests: Rate{Limit: 1 << 40, Window: time.Minute},
		Tokens:   Rate{Limit: 1 << 50, Window: time.Minute},
		Budget:   Budget{USD: maxBudgetUSD, Period: Month},
	}}
}

// BenchmarkMemoryReserveSettle is the in-memory hot path: one claim with request, token and budget limits,
// reserved and settled. Target: under 1µs and no allocations.
func BenchmarkMemoryReserveSettle(b *testing.B) {
	l, _ := New(NewMemoryStore(), benchRules(), Options{})
	claims := []Claim{{Rule: "per-key", Key: "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", Tokens: 1200}}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := l.Reserve(ctx, claims)
		if !r.Allowed() {
			b.Fatal("refused")
		}
		_ = r.Settle(ctx, 800, 0.0001)
	}
}

// BenchmarkMemoryReserveSettleParallel runs the hot path from all CPUs over 1000 keys.
func BenchmarkMemoryReserveSettleParallel(b *testing.B) {
	l, _ := New(NewMemoryStore(), benchRules(), Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		claims := []Claim{{Rule: "per-key", Tokens: 1200}}
		i := 0
		for pb.Next() {
			claims[0].Key = keys1000[i%1000]
			i++
			r, _ := l.Reserve(ctx, claims)
			_ = r.Settle(ctx, 800, 0.0001)
		}
	})
}

var keys1000 = func() []string {
	k := make([]string, 1000)
	for i := range k {
		k[i] = "Bearer sk-" + strconv.Itoa(i)
	}
	return k
}()

// BenchmarkRedisReserve is one Reserve against Redis: one round trip running the reserve script.
func BenchmarkRedisReserve(b *testing.B) {
	l, _ := New(newRedisStore(b, redisOptions(b)), benchRules(), Options{})
	claims := []Claim{{Rule: "per-key", Key: "Bearer sk-bench", Tokens: 1200}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Reserve(ctx, claims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisReserveSettle is a Reserve and a Settle against Redis: two round trips.
func BenchmarkRedisReserveSettle(b *testing.B) {
	l, _ := New(newRedisStore(b, redisOptions(b)), benchRules(), Options{})
	claims := []Claim{{Rule: "per-key", Key: "Bearer sk-bench", Tokens: 1200}}
	b.ReportAllocs()
	for b.Loop() {
		r, err := l.Reserve(ctx, claims)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Settle(ctx, 800, 0.0001); err != nil {
			b.Fatal(err)
		}
	}
}
