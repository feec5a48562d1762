// Package ratelimit enforces request, token and spend limits per key for the AI gateway, exactly under
// concurrency, in one process (MemoryStore) or across gateways sharing a Redis (RedisStore).
//
// # Flow
//
// Before the upstream call the engine calls Limiter.Reserve with one Claim per rule that applies to the
// request. Reserve takes one request, the estimated tokens (prompt count plus n × max_tokens) and the
// worst-case cost from every claimed rule in one atomic step, or takes nothing and reports the first limit
// that would be exceeded. When the response ends, Reservation.Settle corrects the tokens and the cost to the
// real usage; when the request never reached the upstream, Reservation.Cancel gives everything back.
//
// # Algorithm: GCRA
//
// Request and token rates use the generic cell rate algorithm in its leaky-bucket form: per rule and key, one
// level and one timestamp. The bucket drains continuously at Limit per Window and a charge fits while the
// level stays at or below Limit, so a client can burst up to Limit and then sustains Limit per Window. It was
// chosen over sliding windows because:
//
//   - state is two numbers per key whatever the limit, where an exact sliding log needs one entry per unit
//     (200000 entries for 200000 tokens a minute) and a sliding counter is only approximate;
//   - a reservation is corrected by moving the level (Settle gives back unused tokens or charges extra ones,
//     Cancel gives everything back), which a log of timestamps cannot do cleanly;
//   - there is no boundary burst of twice the limit as with fixed windows, and the x-ratelimit-reset-* header
//     (time until the limit is full again) is simply level × Window / Limit, matching OpenAI's own
//     continuously replenishing limits;
//   - the Redis script is a handful of arithmetic operations per key.
//
// The price is that GCRA limits a rate, not a count per aligned window: over any span of one Window, a key
// that starts with a full allowance can pass Limit at once plus what drains during the span.
//
// # Budgets
//
// Spend budgets are fixed calendar periods in UTC: a minute, an hour, a day from 00:00 UTC, or a month from
// the 1st at 00:00 UTC to the 1st of the next month. Reserve takes the request's worst-case cost
// (Claim.CostUSD: its prompt and n × max_tokens at the model's price) from the budget along with the request,
// and admits it only when the spend settled in the period plus the costs reserved by requests in flight plus
// its own fit in the budget; Settle replaces the reservation with the real cost and Cancel gives it back. So
// concurrent requests never spend more than the budget together, in memory and in Redis, as long as none
// costs more than it reserved (a model without a price reserves 0). Spend settled after a period ends
// counts toward the new period.
//
// # Keys
//
// Claim keys are hashed (SHA-256 of rule name and key, first 128 bits) before they reach a store, so API keys
// used as limit keys appear neither in memory nor in Redis.
package ratelimit
