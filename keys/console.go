package keys

import (
	"embed"
	"net/http"
)

// consoleFiles is the management page: plain HTML, CSS and JavaScript, no build step and nothing loaded from
// elsewhere, so it works offline.
//
//go:embed console/index.html console/console.css console/console.js
var consoleFiles embed.FS

// consoleAssets maps each file name under …/console/ to its Content-Type; "" is the page itself.
var consoleAssets = map[string]string{
	"":            "text/html; charset=utf-8",
	"index.html":  "text/html; charset=utf-8",
	"console.css": "text/css; charset=utf-8",
	"console.js":  "text/javascript; charset=utf-8",
}

// consoleCSP lets the page load only its own script and stylesheet and call only its own origin: no inline
// script, no frames, no forms posted elsewhere.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveConsole serves the page's files with a strict Content-Security-Policy.
func (m *Manager) serveConsole(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	if rt.kind == consoleDir {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	}
	name := rt.asset
	if name == "" {
		name = "index.html"
	}
	b, err := consoleFiles.ReadFile("console/" + name)
	if err != nil {
		writeError(w, apiError(http.StatusNotFound, "unknown_url", "unknown console file"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", consoleAssets[name])
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}
