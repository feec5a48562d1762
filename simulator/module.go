package simulator

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is the Caddy module http.handlers.ai_simulator: a simulated LLM provider that speaks OpenAI Chat
// Completions, Anthropic Messages and Gemini generateContent by path (see New), for demos, tests and
// benchmarks. It answers every request itself and never calls the next handler.
type Handler struct {
	Config

	sim *Simulator
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.ai_simulator",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision builds the simulator from the configuration.
func (h *Handler) Provision(caddy.Context) error {
	h.sim = New(h.Config)
	return nil
}

// Validate rejects knobs that are out of range.
func (h *Handler) Validate() error { return h.Config.Validate() }

// ServeHTTP answers the request as the simulated provider.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.sim.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
