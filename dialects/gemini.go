package dialects

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Gemini{})
}

// Gemini is the dialect of Google's Gemini API (generateContent and streamGenerateContent), translated from
// and to OpenAI's Chat Completions; the type google is another name for it. Credential: the
// x-goog-api-key header (never the URL).
type Gemini struct {
	// IncludeThoughts asks thinking models for thought summaries, returned as reasoning_content.
	IncludeThoughts bool `json:"include_thoughts,omitempty"`
	// ThoughtSignatureFallback is sent in place of a missing thought signature on a tool call from another
	// model's history (e.g. skip_thought_signature_validator). Default: none; Gemini 3 then refuses such
	// histories.
	ThoughtSignatureFallback string `json:"thought_signature_fallback,omitempty"`

	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (Gemini) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".gemini", New: func() caddy.Module { return new(Gemini) }}
}

// Provision builds the translator.
func (g *Gemini) Provision(caddy.Context) error {
	g.dialect = transform.NewGemini(transform.GeminiOptions{IncludeThoughts: g.IncludeThoughts,
		SignatureFallback: g.ThoughtSignatureFallback})
	return nil
}

// Translator returns the Gemini translator.
func (g *Gemini) Translator() transform.Dialect { return g.dialect }

// BaseURL is Google's public Gemini API.
func (g *Gemini) BaseURL() string { return transform.GeminiBaseURL }

// Keyless is false.
func (g *Gemini) Keyless() bool { return false }

var geminiOptions = caddyopt.Table[*Gemini]{
	{Name: "include_thoughts", Parse: func(d *caddyfile.Dispenser, g *Gemini) error {
		g.IncludeThoughts = true
		return caddyopt.Flag(d)
	}},
	{Name: "thought_signature_fallback", Parse: func(d *caddyfile.Dispenser, g *Gemini) (err error) {
		g.ThoughtSignatureFallback, err = caddyopt.String(d)
		return err
	}},
}

// UnmarshalCaddyfile reads the gemini options of a provider block. Syntax:
//
//	include_thoughts                  # ask for thought summaries, returned as reasoning_content
//	thought_signature_fallback <v>    # e.g. skip_thought_signature_validator for foreign histories
func (g *Gemini) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return geminiOptions.Parse(d, g, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "gemini", geminiOptions.Names())
	})
}

func (*Gemini) caddyfileOptions() []string { return geminiOptions.Names() }

var (
	_ Dialect               = (*Gemini)(nil)
	_ caddy.Provisioner     = (*Gemini)(nil)
	_ caddyfile.Unmarshaler = (*Gemini)(nil)
)
