package dialects

import (
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(OpenAI{})
}

// Preset is a known OpenAI-compatible service: its public base URL, and whether it is used without a key.
type Preset struct {
	// BaseURL is the service's API base URL, used when the provider sets no base_url.
	BaseURL string
	// Keyless marks a service normally run locally without a credential, so a provider of it needs no
	// api_key.
	Keyless bool
}

// Presets are the OpenAI-compatible services a provider's type (or name) can pick. Adding one is one line.
var Presets = map[string]Preset{
	"openai":     {BaseURL: "https://api.openai.com/v1"},
	"openrouter": {BaseURL: "https://openrouter.ai/api/v1"},
	"groq":       {BaseURL: "https://api.groq.com/openai/v1"},
	"mistral":    {BaseURL: "https://api.mistral.ai/v1"},
	"deepseek":   {BaseURL: "https://api.deepseek.com/v1"},
	"together":   {BaseURL: "https://api.together.xyz/v1"},
	"xai":        {BaseURL: "https://api.x.ai/v1"},
	"fireworks":  {BaseURL: "https://api.fireworks.ai/inference/v1"},
	"ollama":     {BaseURL: "http://127.0.0.1:11434/v1", Keyless: true},
	"vllm":       {BaseURL: "http://127.0.0.1:8000/v1", Keyless: true},
}

// OpenAI is the dialect of OpenAI's Chat Completions API and of every server that speaks it: requests and
// answers are passed through, with the model renamed and usage read. Credential: Authorization: Bearer
// (none when the provider has no key).
type OpenAI struct {
	// Preset names a known service (see Presets) whose base URL is used when the provider sets no base_url.
	// Default: none, and the provider must set base_url.
	Preset string `json:"preset,omitempty"`
	// ForwardMetadata sends the request's metadata object upstream (OpenAI accepts it only with
	// store: true). Default: false, it is dropped.
	ForwardMetadata bool `json:"forward_metadata,omitempty"`
	// Responses says how Responses API requests (POST …/responses) are served: "native" sends them to the
	// upstream's own Responses API as they are (with previous_response_id, background, built-in tools, stored
	// responses); "chat" translates them through chat completions (for servers without the Responses API).
	// Default: native for the openai preset, chat for every other service.
	Responses string `json:"responses,omitempty"`

	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (OpenAI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".openai", New: func() caddy.Module { return new(OpenAI) }}
}

// Provision builds the translator.
func (o *OpenAI) Provision(caddy.Context) error {
	o.dialect = transform.NewOpenAI(transform.OpenAIOptions{ForwardMetadata: o.ForwardMetadata,
		NativeResponses: o.Responses == "native" || (o.Responses == "" && o.Preset == "openai")})
	return nil
}

// Validate checks the preset's name and the responses mode.
func (o *OpenAI) Validate() error {
	if err := validResponsesMode(o.Responses); err != nil {
		return err
	}
	if _, ok := Presets[o.Preset]; o.Preset != "" && !ok {
		names := make([]string, 0, len(Presets))
		for n := range Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("unknown openai preset '%s' (known: %s)", o.Preset, strings.Join(names, ", "))
	}
	return nil
}

// Translator returns the OpenAI translator.
func (o *OpenAI) Translator() transform.Dialect { return o.dialect }

// BaseURL returns the preset's base URL.
func (o *OpenAI) BaseURL() string { return Presets[o.Preset].BaseURL }

// Keyless reports whether the preset is a local server.
func (o *OpenAI) Keyless() bool { return Presets[o.Preset].Keyless }

var openAIOptions = caddyopt.Table[*OpenAI]{
	{Name: "forward_metadata", Parse: func(d *caddyfile.Dispenser, o *OpenAI) error {
		o.ForwardMetadata = true
		return caddyopt.Flag(d)
	}},
	{Name: "responses", Parse: func(d *caddyfile.Dispenser, o *OpenAI) (err error) {
		o.Responses, err = parseResponsesMode(d)
		return err
	}},
}

// parseResponsesMode reads the argument of `responses native|chat`.
func parseResponsesMode(d *caddyfile.Dispenser) (string, error) {
	mode, err := caddyopt.String(d)
	if err != nil {
		return "", err
	}
	if validResponsesMode(mode) != nil {
		return "", d.Errf("responses must be native or chat, not '%s'", mode)
	}
	return mode, nil
}

func validResponsesMode(mode string) error {
	if mode != "" && mode != "native" && mode != "chat" {
		return fmt.Errorf("responses must be native or chat, not '%s'", mode)
	}
	return nil
}

// UnmarshalCaddyfile reads the openai options of a provider block (presets are chosen by the provider's
// type: `type groq`). Syntax:
//
//	forward_metadata                     # send the request's metadata upstream (dropped by default)
//	responses native|chat                # Responses API: upstream's own (default for preset openai) or via chat
func (o *OpenAI) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return openAIOptions.Parse(d, o, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "openai", openAIOptions.Names())
	})
}

func (*OpenAI) caddyfileOptions() []string { return openAIOptions.Names() }

var (
	_ Dialect               = (*OpenAI)(nil)
	_ caddy.Provisioner     = (*OpenAI)(nil)
	_ caddy.Validator       = (*OpenAI)(nil)
	_ caddyfile.Unmarshaler = (*OpenAI)(nil)
)
