package router

import (
	"errors"
	"strings"
	"testing"
)

// TestGlobAliases: a glob alias serves names nothing else serves; exact aliases and provider/model names win
// over globs, and the longest pattern wins among globs.
func TestGlobAliases(t *testing.T) {
	r, _ := newTestRouter(t, func(c *Config) {
		c.Providers[1].Models = []string{"small", "big"}
		c.Aliases = map[string]string{
			"claude-*":                  "a/gpt-4o-mini",
			"claude-opus-*":             "b/big",
			"claude-haiku-4-5-20251001": "c/exact",
			"*-haiku-*":                 "d/fast",
			"fast":                      "b/small",
			"team/*":                    "fast",
		}
	})
	for model, want := range map[string]string{
		"claude-sonnet-4-5-20250929": "a/gpt-4o-mini",
		"claude-opus-4-1":            "b/big",
		"claude-haiku-4-5-20251001":  "c/exact", // exact alias beats both globs
		"claude-haiku-4-5":           "d/fast",  // "*-haiku-*" is longer than "claude-*"
		"my-haiku-2":                 "d/fast",
		"team/anything/at/all":       "b/small", // a glob may point to another alias; '*' spans slashes
		"a/claude-direct":            "a/claude-direct",
	} {
		if got := first(t, r, model); got.Provider+"/"+got.Model != want {
			t.Errorf("%s → %s/%s, want %s", model, got.Provider, got.Model, want)
		}
	}
	_, err := r.Plan("gpt-4o", nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("an unmatched name: %v", err)
	}
	for _, m := range r.Models() {
		if strings.Contains(m.ID, "*") {
			t.Errorf("glob %s listed as a model", m.ID)
		}
	}
	if _, err := New(Config{Providers: []ProviderConfig{{Name: "a"}}, Aliases: map[string]string{"x-*": "nope/m"}}); err == nil {
		t.Error("a glob to an unknown provider was accepted")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "a", true}, {"a*c", "abbbc", true}, {"a*c", "abcb", false},
		{"*b*", "abc", true}, {"a**c", "ac", true}, {"abc", "abc", true}, {"abc", "abd", false}, {"a*b*c", "axbxbxc", true},
		{"claude-*", "claude", false},
	} {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}
