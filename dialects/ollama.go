package dialects

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(OllamaNative{})
}

// OllamaNative is the dialect of Ollama's own API (/api/chat, NDJSON streams) at http://127.0.0.1:11434;
// the ollama preset of the openai dialect speaks Ollama's /v1 layer instead. Credential: Authorization:
// Bearer when a key is set (Ollama Cloud), none for a local server.
type OllamaNative struct {
	// KeepAlive is how long Ollama keeps the model loaded after a request: a duration such as 5m or 1h,
	// 0 to unload it at once, or forever. Default: the server's (5m).
	KeepAlive string `json:"keep_alive,omitempty"`

	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (OllamaNative) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".ollama_native", New: func() caddy.Module { return new(OllamaNative) }}
}

// Provision checks keep_alive and builds the translator.
func (o *OllamaNative) Provision(caddy.Context) error {
	keep, err := keepAlive(o.KeepAlive)
	if err != nil {
		return err
	}
	o.dialect = transform.NewOllama(transform.OllamaOptions{KeepAlive: keep})
	return nil
}

// Translator returns the Ollama translator.
func (o *OllamaNative) Translator() transform.Dialect { return o.dialect }

// BaseURL is a local Ollama server.
func (o *OllamaNative) BaseURL() string { return transform.OllamaBaseURL }

// Keyless is true: a local Ollama needs no key.
func (o *OllamaNative) Keyless() bool { return true }

var ollamaOptions = caddyopt.Table[*OllamaNative]{
	{Name: "keep_alive", Parse: func(d *caddyfile.Dispenser, o *OllamaNative) (err error) {
		if o.KeepAlive, err = caddyopt.String(d); err != nil {
			return err
		}
		if _, err := keepAlive(o.KeepAlive); err != nil {
			return d.Err(err.Error())
		}
		return nil
	}},
}

// UnmarshalCaddyfile reads the ollama_native options of a provider block. Syntax:
//
//	keep_alive <duration>|forever     # how long Ollama keeps the model loaded; 0 unloads at once; default the server's
func (o *OllamaNative) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return ollamaOptions.Parse(d, o, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "ollama_native", ollamaOptions.Names())
	})
}

// keepAlive checks a keep_alive setting and returns what is sent to Ollama: a Go duration (Ollama parses
// it with time.ParseDuration, so Caddy's 1d form is converted), or -1m, which Ollama reads as for ever.
func keepAlive(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if s == "forever" {
		return "-1m", nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return "", fmt.Errorf("invalid keep_alive '%s': use a duration such as 5m, 0 to unload the model at once, or forever", s)
	}
	if d < 0 {
		return "", fmt.Errorf("keep_alive '%s': must not be negative: use forever to keep the model loaded", s)
	}
	return d.String(), nil
}

func (*OllamaNative) caddyfileOptions() []string { return ollamaOptions.Names() }

var (
	_ Dialect               = (*OllamaNative)(nil)
	_ caddy.Provisioner     = (*OllamaNative)(nil)
	_ caddyfile.Unmarshaler = (*OllamaNative)(nil)
)
