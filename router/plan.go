package router

// Plan is the order in which one request tries targets: the requested model's tiers, then each
// request-level fallback model's tiers. It never yields the same target twice. A Plan belongs to one
// request: it is not safe for concurrent use and must not be copied once used.
type Plan struct {
	r       *Router
	entries []planEntry
	tried   []*member
	// entry and tier are where the next pick starts; last is the entry of the last yielded target.
	entry, tier, last int
	inlineEntries     [4]planEntry
	inlineTried       [8]*member
}

// planEntry is one model of the plan: the requested one or a fallback.
type planEntry struct {
	name string
	rt   *route
}

// Plan resolves model and the request's fallback models (OpenRouter's "models" list) and returns the
// order in which to try their targets. A name that resolves to nothing the gateway serves, or that the
// allow-lists refuse, is a *NotFoundError naming it.
func (r *Router) Plan(model string, fallbacks []string) (*Plan, error) {
	p := new(Plan)
	if err := r.PlanInto(p, model, fallbacks); err != nil {
		return nil, err
	}
	return p, nil
}

// PlanInto is Plan writing into p, which may be embedded in the caller's per-request state or reused
// from a pool: with at most 3 fallbacks and 8 attempts it allocates nothing. p keeps references to the
// name strings until it is reused.
func (r *Router) PlanInto(p *Plan, model string, fallbacks []string) error {
	*p = Plan{r: r}
	p.entries = p.inlineEntries[:0]
	p.tried = p.inlineTried[:0]
	rt, err := r.lookup(model)
	if err != nil {
		return err
	}
	p.entries = append(p.entries, planEntry{name: model, rt: rt})
	for _, fb := range fallbacks {
		rt, err := r.lookup(fb)
		if err != nil {
			return err
		}
		p.entries = append(p.entries, planEntry{name: fb, rt: rt})
	}
	return nil
}

// Next returns the next target to try, or false when the plan is exhausted. It takes the policy's pick
// among the healthy targets of the current tier that this plan has not tried, then moves to the next
// tier, then to the next fallback model. A cooling-down target is skipped, except that one whose
// cooldown has ended is offered as the single half-open probe (Target.Probe).
//
// When no target of the whole plan is healthy before anything was tried (every one cooling down),
// Next does not fail outright: it yields the target whose cooldown ends soonest, as a probe. The request
// thus still reaches an upstream, and with a single target the breaker never refuses traffic.
func (p *Plan) Next() (Target, bool) {
	if p.r == nil {
		return Target{}, false
	}
	now := int64(-1)
	for p.entry < len(p.entries) {
		rt := p.entries[p.entry].rt
		for p.tier < len(rt.tiers) {
			if m, probe := p.pick(rt.policy, &rt.tiers[p.tier], &now); m != nil {
				return p.take(m, probe, p.entry), true
			}
			p.tier++
		}
		p.entry++
		p.tier = 0
	}
	if len(p.tried) == 0 {
		return p.forced()
	}
	return Target{}, false
}

// Model returns the client-facing model name (the requested one or a fallback) whose target Next
// returned last; responses name it as the model that answered.
func (p *Plan) Model() string {
	if p.last < len(p.entries) {
		return p.entries[p.last].name
	}
	return ""
}

// Tried returns how many targets Next has yielded.
func (p *Plan) Tried() int { return len(p.tried) }

// take records m as tried and returns it as a Target.
func (p *Plan) take(m *member, probe bool, entry int) Target {
	p.tried = append(p.tried, m)
	p.last = entry
	t := m.t
	t.m, t.probe = m, probe
	return t
}

func (p *Plan) hasTried(m *member) bool {
	for _, t := range p.tried {
		if t == m {
			return true
		}
	}
	return false
}

// pick chooses among the eligible slots of t: untried, and healthy or due for a probe. now is read
// lazily, only when a slot is cooling down.
func (p *Plan) pick(pol policy, t *tier, now *int64) (*member, bool) {
	var eligible uint64
	for i := range t.slots {
		m := t.slots[i].m
		if p.hasTried(m) {
			continue
		}
		if st := m.cool.Load(); st != 0 {
			if *now < 0 {
				*now = p.r.nanos()
			}
			if int64(st>>stateBits) > *now {
				continue
			}
		}
		eligible |= 1 << i
	}
	for eligible != 0 {
		i := p.r.choose(pol, t, eligible)
		m := t.slots[i].m
		st := m.cool.Load()
		if st == 0 {
			return m, false
		}
		if *now < 0 {
			*now = p.r.nanos()
		}
		if int64(st>>stateBits) <= *now && m.cool.CompareAndSwap(st, p.r.probeLease(*now)) {
			return m, true
		}
		eligible &^= 1 << i
	}
	return nil, false
}

// probeLease is the breaker state of a target whose probe starts at now.
func (r *Router) probeLease(now int64) uint64 {
	return uint64(now+int64(r.breaker.ProbeTimeout))<<stateBits | stateProbing
}

// forced yields the plan's target whose cooldown ends soonest, as a probe, when none is healthy.
func (p *Plan) forced() (Target, bool) {
	var best *member
	var bestUntil uint64
	bestEntry := 0
	for e := range p.entries {
		rt := p.entries[e].rt
		for ti := range rt.tiers {
			for _, s := range rt.tiers[ti].slots {
				until := s.m.cool.Load() >> stateBits
				if best == nil || until < bestUntil {
					best, bestUntil, bestEntry = s.m, until, e
				}
			}
		}
	}
	if best == nil {
		return Target{}, false
	}
	if st := best.cool.Load(); st != 0 {
		best.cool.CompareAndSwap(st, p.r.probeLease(p.r.nanos()))
	}
	return p.take(best, true, bestEntry), true
}
