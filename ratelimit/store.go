package ratelimit

import "context"

// Store holds the counters of a Limiter: NewMemoryStore for one gateway process, NewRedisStore for several
// gateways sharing limits. A store holds no rule values, only counters per rule name and hashed key, so it can
// outlive the Limiter and config that created it (the Caddy glue keeps it in a caddy.UsagePool).
type Store interface {
	// Destruct releases the store's resources; the caddy.UsagePool calls it when no config uses the store.
	Destruct() error

	// reserve checks every op of b and, when all fit, charges them all (requests, tokens and reserved
	// spend), atomically. It reports the index and kind of the first op that does not fit (kind 0: all fit)
	// and sets each op's levels.
	reserve(ctx context.Context, b *batch) (denied int, kind Kind, err error)
	// adjust adds each op's reqDelta and tokDelta to its rates and spendDelta to its budget, atomically.
	adjust(ctx context.Context, b *batch) error
}
