// Package dialects holds the provider API dialects as Caddy modules, in the namespace
// http.handlers.ai_gateway.dialects with "type" as the inline key, the way reverse_proxy's transports are
// modules of http.reverse_proxy.transport. Each module owns its options (JSON fields and Caddyfile lines
// inside a provider block), its defaults (base URL, whether it needs a key) and returns the translator the
// engine uses. The wire formats themselves are in package transform; this package is Caddy glue only.
//
// A third-party provider is a module in this namespace implementing Dialect, built in with
// `xcaddy build --with <module>` and selected with `type <name>` in a provider block.
package dialects

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// Namespace is the Caddy module namespace of dialects; a dialect's ID is Namespace + "." + its type name.
const Namespace = "http.handlers.ai_gateway.dialects"

// Dialect is what a module of the dialects namespace provides. The handler loads it (provisioning and
// validating it) for each provider, then asks it for its translator and defaults.
//
// A module that takes options implements caddyfile.Unmarshaler: it is given the provider block's lines
// that are not generic provider options, as a block "<type> { <option lines> }", and should parse them
// with `d.Next()` then `for nesting := d.Nesting(); d.NextBlock(nesting); { ... }`, refusing options it
// does not know.
type Dialect interface {
	caddy.Module
	// Translator returns the wire-format translator (and authentication hook) of the provisioned module.
	Translator() transform.Dialect
	// BaseURL is the base URL used when the provider sets no base_url; empty means base_url is required.
	BaseURL() string
	// Keyless reports that the API is normally used without a credential (a local server), so a provider
	// without api_key is not warned about.
	Keyless() bool
}

// TargetCredentials is implemented by a dialect whose credentials are options of its own (AWS access keys)
// rather than the provider's api_key: each string it returns (an opaque reference, never a secret) is one
// more target of the provider, handed to the translator's Authorize as api_key values are.
type TargetCredentials interface {
	TargetCredentials() []string
}

// aliases are other names for a dialect's type.
var aliases = map[string]string{"google": "gemini"}

// Resolve returns a new, unprovisioned dialect module for a provider's type and the type name its JSON
// carries. An empty typ means the provider's name picks it (a preset or a dialect named like the
// provider), else the openai dialect with no preset, which needs a base_url. A type is a preset of the
// openai dialect (openai, groq, ollama, …; see Presets), a dialect module's name, or an alias (google).
func Resolve(typ, provider string) (Dialect, string, error) {
	name := typ
	if name == "" {
		name = provider
		if !known(name) {
			return new(OpenAI), "openai", nil
		}
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	if _, ok := Presets[name]; ok {
		return &OpenAI{Preset: name}, "openai", nil
	}
	mod, err := caddy.GetModule(Namespace + "." + name)
	if err != nil {
		return nil, "", fmt.Errorf("unknown type '%s' (known: %s)", typ, strings.Join(Types(), ", "))
	}
	d, ok := mod.New().(Dialect)
	if !ok {
		return nil, "", fmt.Errorf("type '%s': module %s is not a dialect", typ, mod.ID)
	}
	return d, name, nil
}

// known reports whether name is a type: a preset, an alias or a dialect module.
func known(name string) bool {
	return slices.Contains(Types(), name)
}

// Types returns every name a provider's type may take, sorted: the dialect modules, the openai presets and
// the aliases.
func Types() []string {
	var names []string
	for _, m := range caddy.GetModules(Namespace) {
		names = append(names, m.ID.Name())
	}
	for p := range Presets {
		names = append(names, p)
	}
	for a := range aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// JSON returns the module's JSON object with its type as the inline key, for ProviderConfig.DialectRaw.
func JSON(d Dialect, typ string, warnings *[]caddyconfig.Warning) json.RawMessage {
	return caddyconfig.JSONModuleObject(d, "type", typ, warnings)
}

// Unmarshal passes a provider block's dialect option lines (each a segment: the line and its block) to the
// module, as the block "<type> { <lines> }". A module that takes no options refuses any line.
func Unmarshal(d Dialect, typ string, lines []caddyfile.Segment) error {
	if len(lines) == 0 {
		return nil
	}
	unm, ok := d.(caddyfile.Unmarshaler)
	if !ok {
		return caddyfile.NewDispenser(lines[0]).Errf("unrecognized provider subdirective '%s': type %s takes no options of its own", lines[0][0].Text, typ)
	}
	// the braces are copies of the first option's name (an unquoted token of the same file), so that the
	// dispenser reads them as braces; the closing one goes on a line of its own after the last option
	first, last := lines[0][0], lines[len(lines)-1][len(lines[len(lines)-1])-1]
	open, head, end := first, first, first
	head.Text, open.Text = typ, "{"
	end.Text, end.Line = "}", last.Line+last.NumLineBreaks()+1
	tokens := []caddyfile.Token{head, open}
	for _, l := range lines {
		tokens = append(tokens, l...)
	}
	return unm.UnmarshalCaddyfile(caddyfile.NewDispenser(append(tokens, end)))
}

// unrecognized is the error for a provider line neither the provider block nor the dialect knows.
func unrecognized(d *caddyfile.Dispenser, typ string, own []string) error {
	if len(own) == 0 {
		return d.Errf("unrecognized provider subdirective '%s': type %s takes no options of its own", d.Val(), typ)
	}
	return d.Errf("unrecognized provider subdirective '%s' (type %s's own options are %s)", d.Val(), typ, strings.Join(own, ", "))
}

// OptionNames returns the Caddyfile options of each registered dialect that lists them, by type, for
// documentation checks.
func OptionNames() map[string][]string {
	names := make(map[string][]string)
	for _, m := range caddy.GetModules(Namespace) {
		if l, ok := m.New().(interface{ caddyfileOptions() []string }); ok {
			names[m.ID.Name()] = l.caddyfileOptions()
		}
	}
	return names
}
