// Package router maps the model names clients send to upstream targets: provider prefixes, aliases,
// allow-lists, and routes with ordered tiers of targets and a selection policy. It plans the attempts of
// one request (Plan), tracks each target's health (Start, Attempt.Done) with a circuit breaker, and says
// when and how long to wait before retrying (RetryPolicy). No Caddy imports.
package router

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxDynamicRoutes and maxDynamicBytes bound the distinct "provider/model" names of providers without an
// allow-list that keep health state: clients choose those names, so both their count and the memory they take
// (dynamicEntryBytes each) are capped. Names beyond the caps are still served, without load balancing memory
// or a breaker.
const (
	maxDynamicRoutes = 4096
	maxDynamicBytes  = 4 << 20
)

// dynamicEntryBytes is what one kept dynamic name costs against maxDynamicBytes: the name itself (shared by
// the map key and its targets) and an estimate of the route, its slots, one member per key and the map
// entries that hold them. The estimate errs high: measured on amd64, a short name with one key holds about
// 400 bytes (estimated 650), with three keys about 1,100 (estimated 1,400).
func dynamicEntryBytes(name string, keys int) int {
	return len(name) + 256 + 384*keys
}

// OtherModel is the model part of the metrics label of every target whose model the configuration does not
// name (Target.Label): clients choose those names, so they never become label values.
const OtherModel = "other"

// ProviderConfig describes one configured provider as the router needs it.
type ProviderConfig struct {
	// Name is the prefix clients use: "openai" in "openai/gpt-4o-mini".
	Name string
	// Models is an optional allow-list of upstream model names; empty allows any model.
	Models []string
	// Keys is how many API keys the provider has; each key is a separate target (at least 1).
	Keys int
	// Policy balances the keys of a direct "provider/model" request; empty means PolicyWeighted.
	Policy Policy
}

// Config is the router's configuration.
type Config struct {
	// Providers are the configured upstream providers.
	Providers []ProviderConfig
	// Aliases maps a client-visible name to "provider/model" or to a route name. A name with a '*' is a
	// glob, '*' matching any run of characters ("claude-*" serves "claude-sonnet-4-5-20250929"): it serves
	// names that nothing else does. An exact name (alias, route, allow-listed or valid "provider/model")
	// always wins over a glob; among globs the longest pattern wins, and among patterns of one length the
	// first in lexical order.
	Aliases map[string]string
	// Routes are client-facing model names served by tiers of targets.
	Routes []RouteConfig
	// Breaker configures the per-target circuit breaker; zero fields take the defaults.
	Breaker BreakerConfig
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// Rand returns uniformly random bits for PolicyWeighted and tie breaking; nil means math/rand/v2.
	Rand func() uint64
}

// Target is one upstream that can serve a request.
type Target struct {
	// Provider is the provider's name.
	Provider string
	// Model is the model name sent upstream.
	Model string
	// Key is the index of the provider's API key to use.
	Key int

	// m is the target's health state and label; nil for a Target built outside the router.
	m *member
	// probe marks the attempt that decides whether a cooling target is restored.
	probe bool
}

// String returns "provider/model".
func (t Target) String() string { return t.Provider + "/" + t.Model }

// Label returns the target's name for metrics and other bounded sets: "provider/model" when the configuration
// names the model (a provider's allow-list, an alias or a route target), else "provider/other" (OtherModel),
// whatever name the client sent. It does not allocate for a Target from the router.
func (t Target) Label() string {
	if t.m != nil {
		return t.m.label
	}
	return t.Provider + "/" + OtherModel
}

// Probe reports whether this attempt probes a target that was cooling down: its outcome restores the
// target or cools it down again.
func (t Target) Probe() bool { return t.probe }

// NotFoundError says that a model name resolves to nothing the gateway serves.
type NotFoundError struct {
	// Model is the name as the client sent it (the requested model or one of its fallbacks).
	Model string
	// Reason says why nothing serves it and what is configured instead.
	Reason string
}

// Error returns an OpenAI-style model_not_found message.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("the model '%s' does not exist or you do not have access to it: %s", e.Model, e.Reason)
}

// Router resolves model names, plans attempts and tracks target health. It is safe for concurrent use.
type Router struct {
	providers map[string]*ProviderConfig
	aliases   map[string]string
	names     []string
	// globs are the glob aliases, longest pattern first; read-only after New.
	globs []globAlias
	// routes maps every configured name (allow-listed "provider/model", route, alias) to its route;
	// read-only after New.
	routes map[string]*route
	// direct maps the "provider/model" names that aliases and routes target, and that routes does not hold,
	// to their direct route, so that they are served as configured names; read-only after New.
	direct map[string]*route
	// otherLabels maps each provider's name to its "provider/other" label; read-only after New.
	otherLabels map[string]string
	// dynamicCap and dynamicMaxBytes are maxDynamicRoutes and maxDynamicBytes; tests lower them.
	dynamicCap      int
	dynamicMaxBytes int
	breaker         BreakerConfig
	now             func() time.Time
	epoch           time.Time
	rand            func() uint64

	// mu guards members, and serialises writers of dynamic.
	mu      sync.RWMutex
	members map[Target]*member
	// dynamic holds the routes of "provider/model" names of providers without an allow-list, as an
	// immutable map replaced on each (rare, bounded) insertion, so lookups take no lock.
	dynamic atomic.Pointer[dynamicRoutes]
}

// dynamicRoutes is one immutable generation of Router.dynamic.
type dynamicRoutes struct {
	routes map[string]*route
	// bytes is the sum of dynamicEntryBytes over routes.
	bytes int
}

// New validates cfg and returns a Router.
func New(cfg Config) (*Router, error) {
	r := &Router{
		providers:       make(map[string]*ProviderConfig, len(cfg.Providers)),
		aliases:         cfg.Aliases,
		routes:          make(map[string]*route),
		direct:          make(map[string]*route),
		otherLabels:     make(map[string]string, len(cfg.Providers)),
		dynamicCap:      maxDynamicRoutes,
		dynamicMaxBytes: maxDynamicBytes,
		now:             cfg.Now,
		rand:            cfg.Rand,
		members:         make(map[Target]*member),
	}
	r.dynamic.Store(&dynamicRoutes{routes: map[string]*route{}})
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Uint64
	}
	r.epoch = r.now()
	var err error
	if r.breaker, err = cfg.Breaker.withDefaults(); err != nil {
		return nil, err
	}
	for i := range cfg.Providers {
		p := cfg.Providers[i]
		if p.Name == "" || strings.Contains(p.Name, "/") {
			return nil, fmt.Errorf("provider name '%s' is invalid: use a non-empty name without '/'", p.Name)
		}
		if _, dup := r.providers[p.Name]; dup {
			return nil, fmt.Errorf("provider '%s' is defined twice: give each provider a unique name", p.Name)
		}
		if p.Keys < 1 {
			p.Keys = 1
		}
		if p.Keys > maxTierSize {
			return nil, fmt.Errorf("provider '%s' has %d API keys: at most %d are supported", p.Name, p.Keys, maxTierSize)
		}
		if _, err := parsePolicy(p.Policy); err != nil {
			return nil, fmt.Errorf("provider '%s': %v", p.Name, err)
		}
		r.providers[p.Name] = &p
		r.otherLabels[p.Name] = p.Name + "/" + OtherModel
		r.names = append(r.names, p.Name)
	}
	for _, name := range r.names {
		p := r.providers[name]
		for _, m := range p.Models {
			r.routes[name+"/"+m] = r.directRoute(p, m, r.member)
		}
	}
	routeNames := make(map[string]bool, len(cfg.Routes))
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		if routeNames[rc.Name] {
			return nil, fmt.Errorf("route '%s' is defined twice: give each route a unique name", rc.Name)
		}
		routeNames[rc.Name] = true
		if err := r.addRoute(rc); err != nil {
			return nil, err
		}
	}
	aliased := make(map[string]*route, len(cfg.Aliases))
	for alias, target := range cfg.Aliases {
		if strings.Contains(alias, "*") {
			rt, err := r.aliasTarget(alias, target)
			if err != nil {
				return nil, err
			}
			r.globs = append(r.globs, globAlias{pattern: alias, rt: rt})
			continue
		}
		if routeNames[alias] {
			return nil, fmt.Errorf("'%s' is both an alias and a route: give them different names", alias)
		}
		rt := r.routes[target]
		if rt == nil {
			p, err := r.resolveDirect(target)
			if err != nil {
				return nil, fmt.Errorf("alias '%s' points to '%s', which no provider serves: %v", alias, target, err)
			}
			rt = r.configuredDirect(p, target)
		}
		aliased[alias] = rt
	}
	maps.Copy(r.routes, aliased)
	slices.SortFunc(r.globs, func(a, b globAlias) int {
		if len(a.pattern) != len(b.pattern) {
			return len(b.pattern) - len(a.pattern)
		}
		return strings.Compare(a.pattern, b.pattern)
	})
	return r, nil
}

// globAlias is an alias whose name is a glob pattern.
type globAlias struct {
	pattern string
	rt      *route
}

// aliasTarget returns the route a glob alias points to: a route, a configured name or a "provider/model".
func (r *Router) aliasTarget(alias, target string) (*route, error) {
	if rt := r.routes[target]; rt != nil {
		return rt, nil
	}
	if a, ok := r.aliases[target]; ok && !strings.Contains(target, "*") {
		target = a
		if rt := r.routes[target]; rt != nil {
			return rt, nil
		}
	}
	p, err := r.resolveDirect(target)
	if err != nil {
		return nil, fmt.Errorf("alias '%s' points to '%s', which no provider serves: %v", alias, target, err)
	}
	return r.configuredDirect(p, target), nil
}

// glob returns the route of the first glob alias matching model, nil when none does.
func (r *Router) glob(model string) *route {
	for _, g := range r.globs {
		if globMatch(g.pattern, model) {
			return g.rt
		}
	}
	return nil
}

// globMatch reports whether name matches pattern, in which each '*' matches any run of characters
// (slashes included) and every other character itself.
func globMatch(pattern, name string) bool {
	star, resume := -1, 0
	p, n := 0, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			resume++
			n = resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// addRoute validates one RouteConfig and registers it.
func (r *Router) addRoute(rc *RouteConfig) error {
	if rc.Name == "" {
		return fmt.Errorf("a route has no name: give it the model name clients will send")
	}
	pol, err := parsePolicy(rc.Policy)
	if err != nil {
		return fmt.Errorf("route '%s': %v", rc.Name, err)
	}
	if len(rc.Tiers) == 0 {
		return fmt.Errorf("route '%s' has no targets: add at least one 'target provider/model'", rc.Name)
	}
	rt := &route{policy: pol, tiers: make([]tier, len(rc.Tiers))}
	for ti, wts := range rc.Tiers {
		if len(wts) == 0 {
			return fmt.Errorf("route '%s' tier %d is empty: every tier needs a target", rc.Name, ti+1)
		}
		for _, wt := range wts {
			if wt.Weight < 0 {
				return fmt.Errorf("route '%s' target '%s' has weight %d: use a positive weight", rc.Name, wt.Model, wt.Weight)
			}
			name := wt.Model
			if a, ok := r.aliases[name]; ok {
				name = a
			}
			p, err := r.resolveDirect(name)
			if err != nil {
				return fmt.Errorf("route '%s' target '%s' cannot be served: %v", rc.Name, wt.Model, err)
			}
			_, model, _ := strings.Cut(name, "/")
			r.configuredDirect(p, name)
			w := float64(max(wt.Weight, 1)) / float64(p.Keys)
			for k := range p.Keys {
				m := r.member(Target{Provider: p.Name, Model: model, Key: k})
				rt.tiers[ti].slots = append(rt.tiers[ti].slots, slot{m: m, weight: w})
			}
		}
		if n := len(rt.tiers[ti].slots); n > maxTierSize {
			return fmt.Errorf("route '%s' tier %d has %d targets counting one per API key: at most %d are supported",
				rc.Name, ti+1, n, maxTierSize)
		}
	}
	r.routes[rc.Name] = rt
	return nil
}

// configuredDirect returns the direct route of name, a "provider/model" that the configuration targets,
// registering it in r.direct unless r.routes already serves it. Only New calls it.
func (r *Router) configuredDirect(p *ProviderConfig, name string) *route {
	if rt := r.routes[name]; rt != nil {
		return rt
	}
	if rt := r.direct[name]; rt != nil {
		return rt
	}
	_, model, _ := strings.Cut(name, "/")
	rt := r.directRoute(p, model, r.member)
	r.direct[name] = rt
	return rt
}

// directRoute builds the one-tier route of a "provider/model" name: one target per key, whose state member
// gives; members registered in r.members are shared with every route naming the same target.
func (r *Router) directRoute(p *ProviderConfig, model string, member func(Target) *member) *route {
	pol, _ := parsePolicy(p.Policy)
	rt := &route{policy: pol, tiers: make([]tier, 1)}
	rt.tiers[0].slots = make([]slot, p.Keys)
	for k := range p.Keys {
		rt.tiers[0].slots[k] = slot{m: member(Target{Provider: p.Name, Model: model, Key: k}), weight: 1}
	}
	return rt
}

// unlisted returns fresh, unregistered state for t, a target of a name the configuration does not name.
func (r *Router) unlisted(t Target) *member {
	return &member{t: t, label: r.otherLabels[t.Provider]}
}

// unlistedLocked returns the registered state of t, a target of a name the configuration does not name,
// creating it with the provider's "other" label. r.mu must be held for writing.
func (r *Router) unlistedLocked(t Target) *member {
	m := r.members[t]
	if m == nil {
		m = r.unlisted(t)
		r.members[t] = m
	}
	return m
}

// member returns the shared health state of t, a target the configuration names, creating it on first use
// with the label "provider/model". Only New calls it; later, unlistedLocked creates members.
func (r *Router) member(t Target) *member {
	t.m, t.probe = nil, false
	r.mu.RLock()
	m := r.members[t]
	r.mu.RUnlock()
	if m != nil {
		return m
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m = r.members[t]; m == nil {
		m = &member{t: t, label: t.String()}
		r.members[t] = m
	}
	return m
}

// lookup finds the route for a client-facing model name: a configured name, or a "provider/model" of a
// provider without an allow-list, kept while the dynamic caps allow.
func (r *Router) lookup(model string) (*route, error) {
	if rt := r.routes[model]; rt != nil {
		return rt, nil
	}
	if rt := r.direct[model]; rt != nil {
		return rt, nil
	}
	dyn := r.dynamic.Load()
	if rt := dyn.routes[model]; rt != nil {
		return rt, nil
	}
	p, err := r.resolveDirect(model)
	if err != nil {
		if rt := r.glob(model); rt != nil {
			return rt, nil
		}
		return nil, &NotFoundError{Model: model, Reason: err.Error()}
	}
	if !r.dynamicFits(dyn, model, p.Keys) {
		_, m, _ := strings.Cut(model, "/")
		return r.directRoute(p, m, r.unlisted), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.dynamic.Load()
	if existing := old.routes[model]; existing != nil {
		return existing, nil
	}
	if !r.dynamicFits(old, model, p.Keys) { // another name took the last room meanwhile
		_, m, _ := strings.Cut(model, "/")
		return r.directRoute(p, m, r.unlisted), nil
	}
	name := strings.Clone(model)
	_, m, _ := strings.Cut(name, "/")
	rt := r.directRoute(p, m, r.unlistedLocked)
	next := &dynamicRoutes{routes: make(map[string]*route, len(old.routes)+1),
		bytes: old.bytes + dynamicEntryBytes(name, p.Keys)}
	maps.Copy(next.routes, old.routes)
	next.routes[name] = rt
	r.dynamic.Store(next)
	return rt, nil
}

// dynamicFits reports whether d has room for one more kept name.
func (r *Router) dynamicFits(d *dynamicRoutes, name string, keys int) bool {
	return len(d.routes) < r.dynamicCap && d.bytes+dynamicEntryBytes(name, keys) <= r.dynamicMaxBytes
}

// Resolve returns every target that serves model, tier by tier in configuration order. For a direct
// "provider/model" name that is one target per API key. Use Plan to choose among them.
func (r *Router) Resolve(model string) ([]Target, error) {
	rt, err := r.lookup(model)
	if err != nil {
		return nil, err
	}
	var targets []Target
	for i := range rt.tiers {
		for _, s := range rt.tiers[i].slots {
			t := s.m.t
			t.m = s.m
			targets = append(targets, t)
		}
	}
	return targets, nil
}

func (r *Router) resolveDirect(name string) (*ProviderConfig, error) {
	prov, model, ok := strings.Cut(name, "/")
	if !ok || model == "" {
		return nil, fmt.Errorf("name models as 'provider/model' (configured providers: %s)", strings.Join(r.names, ", "))
	}
	p := r.providers[prov]
	if p == nil {
		return nil, fmt.Errorf("no provider named '%s' is configured (configured providers: %s)", prov, strings.Join(r.names, ", "))
	}
	if len(p.Models) > 0 && !slices.Contains(p.Models, model) {
		return nil, fmt.Errorf("provider '%s' serves only %s", prov, strings.Join(p.Models, ", "))
	}
	return p, nil
}

// Model is one entry of the model list.
type Model struct {
	// ID is the name clients use.
	ID string
	// OwnedBy is the provider's name; for a route, the provider of its first target.
	OwnedBy string
}

// Models lists what clients can ask for: every allow-listed provider/model, every alias and every
// route, sorted.
func (r *Router) Models() []Model {
	out := make([]Model, 0, len(r.routes))
	for name, rt := range r.routes {
		out = append(out, Model{ID: name, OwnedBy: rt.tiers[0].slots[0].m.t.Provider})
	}
	slices.SortFunc(out, func(a, b Model) int { return strings.Compare(a.ID, b.ID) })
	return out
}
