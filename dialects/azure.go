package dialects

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Azure{})
}

// defaultAzureAPIVersion is the api-version sent to Azure OpenAI when none is configured.
const defaultAzureAPIVersion = "2024-10-21"

// Azure is the dialect of Azure OpenAI: OpenAI's wire format at /openai/deployments/<deployment>/… with an
// api-version query parameter. Credential: the api-key header.
type Azure struct {
	// Resource is the Azure OpenAI resource name; the base URL becomes https://<resource>.openai.azure.com.
	// Placeholders are resolved when the config is loaded. Either it or the provider's base_url is needed.
	Resource string `json:"resource,omitempty"`
	// Deployments maps model names to deployment names. Default: the model name.
	Deployments map[string]string `json:"deployments,omitempty"`
	// APIVersion is the api-version query parameter. Default: 2024-10-21.
	APIVersion string `json:"api_version,omitempty"`
	// ForwardMetadata sends the request's metadata object upstream. Default: false, it is dropped.
	ForwardMetadata bool `json:"forward_metadata,omitempty"`
	// Responses says how Responses API requests are served: "native" (Azure's own Responses API at
	// /openai/v1/responses, the deployment named by model) or "chat" (translated through chat completions).
	// Default: native.
	Responses string `json:"responses,omitempty"`

	baseURL string
	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (Azure) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".azure", New: func() caddy.Module { return new(Azure) }}
}

// Provision resolves the resource's placeholders and builds the translator.
func (a *Azure) Provision(caddy.Context) error {
	if a.Resource != "" {
		a.baseURL = "https://" + caddy.NewReplacer().ReplaceAll(a.Resource, "") + ".openai.azure.com"
	}
	ver := a.APIVersion
	if ver == "" {
		ver = defaultAzureAPIVersion
	}
	a.dialect = transform.NewOpenAI(transform.OpenAIOptions{ForwardMetadata: a.ForwardMetadata,
		Azure: &transform.AzureOptions{APIVersion: ver, Deployments: a.Deployments}, NativeResponses: a.Responses != "chat"})
	return nil
}

// Validate checks the responses mode.
func (a *Azure) Validate() error { return validResponsesMode(a.Responses) }

// Translator returns the OpenAI translator in its Azure form.
func (a *Azure) Translator() transform.Dialect { return a.dialect }

// BaseURL is the resource's URL, or empty (base_url then needed).
func (a *Azure) BaseURL() string { return a.baseURL }

// Keyless is false: Azure OpenAI needs a key.
func (a *Azure) Keyless() bool { return false }

var azureOptions = caddyopt.Table[*Azure]{
	{Name: "resource", Parse: func(d *caddyfile.Dispenser, a *Azure) (err error) {
		a.Resource, err = caddyopt.String(d)
		return err
	}},
	{Name: "deployment", Repeatable: true, Parse: func(d *caddyfile.Dispenser, a *Azure) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.ArgErr()
		}
		if _, dup := a.Deployments[args[0]]; dup {
			return d.Errf("deployment for '%s' already specified", args[0])
		}
		if a.Deployments == nil {
			a.Deployments = make(map[string]string)
		}
		a.Deployments[args[0]] = args[1]
		return nil
	}},
	{Name: "api_version", Parse: func(d *caddyfile.Dispenser, a *Azure) (err error) {
		a.APIVersion, err = caddyopt.String(d)
		return err
	}},
	{Name: "forward_metadata", Parse: func(d *caddyfile.Dispenser, a *Azure) error {
		a.ForwardMetadata = true
		return caddyopt.Flag(d)
	}},
	{Name: "responses", Parse: func(d *caddyfile.Dispenser, a *Azure) (err error) {
		a.Responses, err = parseResponsesMode(d)
		return err
	}},
}

// UnmarshalCaddyfile reads the azure options of a provider block. Syntax:
//
//	resource    <name>                # base URL https://<name>.openai.azure.com
//	deployment  <model> <deployment>  # repeatable; default: the model name
//	api_version <version>             # default 2024-10-21
//	forward_metadata                  # send the request's metadata upstream (dropped by default)
//	responses native|chat             # Responses API: Azure's own (default), or through chat completions
func (a *Azure) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return azureOptions.Parse(d, a, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "azure", azureOptions.Names())
	})
}

func (*Azure) caddyfileOptions() []string { return azureOptions.Names() }

var (
	_ Dialect               = (*Azure)(nil)
	_ caddy.Provisioner     = (*Azure)(nil)
	_ caddy.Validator       = (*Azure)(nil)
	_ caddyfile.Unmarshaler = (*Azure)(nil)
)
