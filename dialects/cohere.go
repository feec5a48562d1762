package dialects

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Cohere{})
}

// Cohere is the dialect of Cohere's v2 API (chat, embed, rerank) at https://api.cohere.com, translated from
// and to OpenAI's formats. Credential: Authorization: Bearer. It takes no options of its own.
type Cohere struct {
	dialect transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (Cohere) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".cohere", New: func() caddy.Module { return new(Cohere) }}
}

// Provision builds the translator.
func (c *Cohere) Provision(caddy.Context) error {
	c.dialect = transform.NewCohere()
	return nil
}

// Translator returns the Cohere translator.
func (c *Cohere) Translator() transform.Dialect { return c.dialect }

// BaseURL is Cohere's public API.
func (c *Cohere) BaseURL() string { return transform.CohereBaseURL }

// Keyless is false.
func (c *Cohere) Keyless() bool { return false }

var (
	_ Dialect           = (*Cohere)(nil)
	_ caddy.Provisioner = (*Cohere)(nil)
)
