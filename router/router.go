// Package router maps the model names clients send to upstream targets: provider prefixes, aliases,
// allow-lists, and (with routes) ordered tiers of targets with a selection policy. No Caddy imports.
package router

import (
	"fmt"
	"slices"
	"strings"
)

// ProviderConfig describes one configured provider as the router needs it.
type ProviderConfig struct {
	// Name is the prefix clients use: "openai" in "openai/gpt-4o-mini".
	Name string
	// Models is an optional allow-list of upstream model names; empty allows any model.
	Models []string
	// Keys is how many API keys the provider has; each key is a separate target (at least 1).
	Keys int
}

// Config is the router's configuration.
type Config struct {
	Providers []ProviderConfig
	// Aliases maps a client-visible name to "provider/model".
	Aliases map[string]string
}

// Target is one upstream that can serve a request.
type Target struct {
	// Provider is the provider's name.
	Provider string
	// Model is the model name sent upstream.
	Model string
	// Key is the index of the provider's API key to use.
	Key int
}

// String returns "provider/model".
func (t Target) String() string { return t.Provider + "/" + t.Model }

// NotFoundError says that a model name resolves to nothing the gateway serves.
type NotFoundError struct {
	Model  string
	Reason string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("the model '%s' does not exist or you do not have access to it: %s", e.Model, e.Reason)
}

// Router resolves model names. It is safe for concurrent use.
type Router struct {
	providers map[string]*ProviderConfig
	aliases   map[string]string
	names     []string
}

// New validates cfg and returns a Router.
func New(cfg Config) (*Router, error) {
	r := &Router{providers: make(map[string]*ProviderConfig, len(cfg.Providers)), aliases: cfg.Aliases}
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
		r.providers[p.Name] = &p
		r.names = append(r.names, p.Name)
	}
	for alias, target := range cfg.Aliases {
		if _, err := r.resolveDirect(target); err != nil {
			return nil, fmt.Errorf("alias '%s' points to '%s', which no provider serves: %v", alias, target, err)
		}
	}
	return r, nil
}

// Resolve returns the targets that serve model, in the order to try them. For a direct
// "provider/model" name that is one target per API key.
func (r *Router) Resolve(model string) ([]Target, error) {
	name := model
	if t, ok := r.aliases[model]; ok {
		name = t
	}
	p, err := r.resolveDirect(name)
	if err != nil {
		return nil, &NotFoundError{Model: model, Reason: err.Error()}
	}
	targets := make([]Target, p.Keys)
	_, m, _ := strings.Cut(name, "/")
	for k := range targets {
		targets[k] = Target{Provider: p.Name, Model: m, Key: k}
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
	// OwnedBy is the provider's name.
	OwnedBy string
}

// Models lists what clients can ask for: every allow-listed provider/model and every alias, sorted.
func (r *Router) Models() []Model {
	var out []Model
	for _, name := range r.names {
		for _, m := range r.providers[name].Models {
			out = append(out, Model{ID: name + "/" + m, OwnedBy: name})
		}
	}
	for alias, target := range r.aliases {
		prov, _, _ := strings.Cut(target, "/")
		out = append(out, Model{ID: alias, OwnedBy: prov})
	}
	slices.SortFunc(out, func(a, b Model) int { return strings.Compare(a.ID, b.ID) })
	return out
}
