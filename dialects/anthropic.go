package dialects

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Anthropic{})
}

// Anthropic is the dialect of Anthropic's Messages API at https://api.anthropic.com, translated from and to
// OpenAI's Chat Completions. Credential: the x-api-key header, with anthropic-version.
type Anthropic struct {
	// DefaultMaxTokens is sent when the request sets neither max_tokens nor max_completion_tokens
	// (Anthropic requires one). Default: 4096.
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
	// AnthropicVersion is the anthropic-version header. Default: 2023-06-01.
	AnthropicVersion string `json:"anthropic_version,omitempty"`
	// AnthropicBeta, when set, is sent as the anthropic-beta header.
	AnthropicBeta string `json:"anthropic_beta,omitempty"`
	// AllowedBetas, when not empty, are the only beta features Anthropic Messages API clients (Claude Code,
	// the Anthropic SDKs) may ask for: the anthropic-beta header that the /v1/messages passthrough forwards
	// keeps only these. Default: every beta the client sends is forwarded.
	AllowedBetas []string `json:"allowed_betas,omitempty"`

	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (Anthropic) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".anthropic", New: func() caddy.Module { return new(Anthropic) }}
}

// Provision builds the translator.
func (a *Anthropic) Provision(caddy.Context) error {
	a.dialect = transform.NewAnthropic(transform.AnthropicOptions{DefaultMaxTokens: a.DefaultMaxTokens,
		Version: a.AnthropicVersion, Beta: a.AnthropicBeta, Betas: a.AllowedBetas})
	return nil
}

// Validate refuses a negative default_max_tokens.
func (a *Anthropic) Validate() error {
	if a.DefaultMaxTokens < 0 {
		return fmt.Errorf("default_max_tokens %d: must be positive (omit it for the default)", a.DefaultMaxTokens)
	}
	return nil
}

// Translator returns the Anthropic translator.
func (a *Anthropic) Translator() transform.Dialect { return a.dialect }

// BaseURL is Anthropic's public API.
func (a *Anthropic) BaseURL() string { return "https://api.anthropic.com" }

// Keyless is false.
func (a *Anthropic) Keyless() bool { return false }

var anthropicOptions = caddyopt.Table[*Anthropic]{
	{Name: "default_max_tokens", Parse: func(d *caddyfile.Dispenser, a *Anthropic) (err error) {
		a.DefaultMaxTokens, err = caddyopt.Int(d, 1)
		return err
	}},
	{Name: "anthropic_version", Parse: func(d *caddyfile.Dispenser, a *Anthropic) (err error) {
		a.AnthropicVersion, err = caddyopt.String(d)
		return err
	}},
	{Name: "anthropic_beta", Parse: func(d *caddyfile.Dispenser, a *Anthropic) (err error) {
		a.AnthropicBeta, err = caddyopt.String(d)
		return err
	}},
	{Name: "allowed_betas", Repeatable: true, Parse: func(d *caddyfile.Dispenser, a *Anthropic) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("allowed_betas needs at least one beta feature name, e.g. interleaved-thinking-2025-05-14")
		}
		a.AllowedBetas = append(a.AllowedBetas, args...)
		return nil
	}},
}

// UnmarshalCaddyfile reads the anthropic options of a provider block. Syntax:
//
//	default_max_tokens <n>            # when the request sets none (Anthropic requires one); default 4096
//	anthropic_version  <version>      # default 2023-06-01
//	anthropic_beta     <features>
//	allowed_betas      <feature...>   # Messages API clients may ask only for these betas; repeatable
func (a *Anthropic) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return anthropicOptions.Parse(d, a, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "anthropic", anthropicOptions.Names())
	})
}

func (*Anthropic) caddyfileOptions() []string { return anthropicOptions.Names() }

var (
	_ Dialect               = (*Anthropic)(nil)
	_ caddy.Provisioner     = (*Anthropic)(nil)
	_ caddy.Validator       = (*Anthropic)(nil)
	_ caddyfile.Unmarshaler = (*Anthropic)(nil)
)
