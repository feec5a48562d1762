package router

import (
	"fmt"
	"sync/atomic"
)

// Policy names how a target is chosen among the healthy, untried targets of one tier.
type Policy string

// The selection policies. Only PolicyWeighted reads weights; the others treat every target alike.
const (
	// PolicyWeighted picks at random in proportion to the weights (the default).
	PolicyWeighted Policy = "weighted"
	// PolicyRoundRobin takes the targets in turn.
	PolicyRoundRobin Policy = "round_robin"
	// PolicyLeastBusy takes the target with the fewest requests in flight.
	PolicyLeastBusy Policy = "least_busy"
	// PolicyLowestLatency takes the target with the lowest moving average of time to first byte. Targets
	// without a measurement yet count as fastest, so each one is tried early.
	PolicyLowestLatency Policy = "lowest_latency"
)

// maxTierSize bounds the targets of one tier (after one target per API key) so eligibility fits a bitmask.
const maxTierSize = 64

// WeightedTarget is one entry of a route tier.
type WeightedTarget struct {
	// Model is "provider/model" or an alias of one.
	Model string
	// Weight is the target's share under PolicyWeighted; 0 means 1. A provider with several API keys
	// splits the weight evenly among its keys.
	Weight int
}

// RouteConfig maps one client-facing model name to ordered tiers of targets.
type RouteConfig struct {
	// Name is the model name clients send, e.g. "smart". It may also shadow a "provider/model" name.
	Name string
	// Tiers are tried in order: the next tier is used when the current one has no healthy, untried
	// target left. In the Caddyfile, `target` lines form the first tier and each `fallback` line adds one.
	Tiers [][]WeightedTarget
	// Policy chooses among the targets of a tier; empty means PolicyWeighted.
	Policy Policy
}

// policy is Policy as a small integer for the hot path.
type policy uint8

const (
	weighted policy = iota
	roundRobin
	leastBusy
	lowestLatency
)

func parsePolicy(p Policy) (policy, error) {
	switch p {
	case "", PolicyWeighted:
		return weighted, nil
	case PolicyRoundRobin:
		return roundRobin, nil
	case PolicyLeastBusy:
		return leastBusy, nil
	case PolicyLowestLatency:
		return lowestLatency, nil
	}
	return 0, fmt.Errorf("unknown policy '%s': use weighted, round_robin, least_busy or lowest_latency", p)
}

// route is a resolved RouteConfig, or the single tier behind a direct "provider/model" name.
type route struct {
	policy policy
	tiers  []tier
}

// tier is one group of interchangeable targets.
type tier struct {
	slots []slot
	// cursor is the round-robin position.
	cursor atomic.Uint32
}

// slot is one target of a tier with its weight in this tier.
type slot struct {
	m      *member
	weight float64
}
