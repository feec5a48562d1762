package router

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveDirectAliasAndKeys(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers = []ProviderConfig{{Name: "openai", Models: []string{"gpt-4o-mini"}, Keys: 2}, {Name: "groq"}}
		c.Aliases = map[string]string{"fast": "openai/gpt-4o-mini"}
	})
	for _, model := range []string{"openai/gpt-4o-mini", "fast"} {
		ts, err := r.Resolve(model)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", model, err)
		}
		if len(ts) != 2 || id(ts[0]) != "openai/gpt-4o-mini#0" || id(ts[1]) != "openai/gpt-4o-mini#1" {
			t.Fatalf("Resolve(%q) = %v, want one target per key", model, ts)
		}
	}
	if ts, err := r.Resolve("groq/llama-3.1-8b"); err != nil || len(ts) != 1 || ts[0].Model != "llama-3.1-8b" {
		t.Fatalf("any-model provider: %v %v", ts, err)
	}
	for _, bad := range []string{"openai/gpt-4o", "nope/x", "plain", "openai/"} {
		_, err := r.Resolve(bad)
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Model != bad {
			t.Errorf("Resolve(%q) error = %v, want NotFoundError naming it", bad, err)
		}
	}
}

func TestModelsListsRoutesAndAliases(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers = []ProviderConfig{{Name: "openai", Models: []string{"gpt-4o-mini"}}, {Name: "groq"}}
		c.Aliases = map[string]string{"fast": "openai/gpt-4o-mini"}
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{targets("groq/llama", "fast")}}}
	})
	var ids []string
	for _, m := range r.Models() {
		ids = append(ids, m.ID+":"+m.OwnedBy)
	}
	if got, want := strings.Join(ids, ","), "fast:openai,openai/gpt-4o-mini:openai,smart:groq"; got != want {
		t.Fatalf("Models = %s, want %s", got, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"unknown policy": {func(c *Config) {
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{targets("a/x")}, Policy: "fastest"}}
		}, "unknown policy 'fastest'"},
		"target nobody serves": {func(c *Config) {
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{targets("zz/x")}}}
		}, "route 'r' target 'zz/x' cannot be served"},
		"empty tier": {func(c *Config) {
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{targets("a/x"), nil}}}
		}, "tier 2 is empty"},
		"no tiers": {func(c *Config) { c.Routes = []RouteConfig{{Name: "r"}} }, "has no targets"},
		"duplicate route": {func(c *Config) {
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{targets("a/x")}}, {Name: "r", Tiers: [][]WeightedTarget{targets("b/x")}}}
		}, "defined twice"},
		"negative weight": {func(c *Config) {
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{{{Model: "a/x", Weight: -1}}}}}
		}, "use a positive weight"},
		"alias and route clash": {func(c *Config) {
			c.Aliases = map[string]string{"r": "a/x"}
			c.Routes = []RouteConfig{{Name: "r", Tiers: [][]WeightedTarget{targets("a/x")}}}
		}, "both an alias and a route"},
		"error rate over 1": {func(c *Config) { c.Breaker.ErrorRate = 50 }, "fraction between 0 and 1"},
		"too many keys":     {func(c *Config) { c.Providers[0].Keys = 65 }, "at most 64"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Providers: []ProviderConfig{{Name: "a"}, {Name: "b"}}}
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRouteMayShadowDirectNameAndAliasMayNameRoute(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers = []ProviderConfig{{Name: "a", Models: []string{"x"}}, {Name: "b"}}
		c.Aliases = map[string]string{"best": "a/x"}
		c.Routes = []RouteConfig{{Name: "a/x", Tiers: [][]WeightedTarget{targets("b/y")}}}
	})
	if got := first(t, r, "a/x"); got.String() != "b/y" {
		t.Fatalf("route named a/x gave %s, want b/y", got)
	}
	if got := first(t, r, "best"); got.String() != "b/y" {
		t.Fatalf("alias to the route gave %s, want b/y", got)
	}
}

func TestHealthIsSharedBetweenRoutesAndDirectNames(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Routes = []RouteConfig{{Name: "smart", Tiers: [][]WeightedTarget{targets("a/x"), targets("b/y")}}}
	})
	for range 3 {
		tg := first(t, r, "a/x")
		r.Start(tg).Done(Outcome{Failed: true})
	}
	if got := first(t, r, "smart"); got.String() != "b/y" {
		t.Fatalf("route gave %s although direct requests cooled a/x down", got)
	}
}

func TestUnlistedModelsBeyondTheCapAreStillServed(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	r.dynamicCap = 2
	for _, m := range []string{"a/1", "a/2", "a/3", "a/3"} {
		if got := first(t, r, m); got.String() != m {
			t.Fatalf("Plan(%s) gave %s", m, got)
		}
	}
	if n := len(r.dynamic.Load().routes); n != 2 {
		t.Fatalf("%d dynamic routes kept, want the cap of 2", n)
	}
}
