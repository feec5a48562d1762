package gateway

import (
	"bytes"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aibackend/caddy-ai-gateway/openapi"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// serveOpenAPI answers GET …/openapi.json and …/openapi.yaml with the document of what this gateway serves,
// its server URL being the path it was asked under (…/v1/openapi.json describes …/v1). The document is built
// per request: it is asked for rarely, and a cache keyed by the client's path would be the client's to grow.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request, res *Result) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
			"use GET for "+r.URL.Path))
		return
	}
	yaml := strings.HasSuffix(r.URL.Path, ".yaml")
	mount := strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/openapi.json"), "/openapi.yaml")
	doc, err := openapi.Build(g.openAPISpec(mount))
	if err != nil {
		g.fail(w, res, transform.NewError(http.StatusInternalServerError, "server_error", "", err.Error()))
		return
	}
	ct := "application/json"
	if yaml {
		doc, ct = openapi.YAML(doc), "application/yaml"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc)
	}
}

// openAPISpec describes the live configuration: the endpoints some provider serves, the names clients may
// use as model, and the providers that take any model name. Provider base URLs and credentials stay out.
func (g *Gateway) openAPISpec(mount string) openapi.Spec {
	s := openapi.Spec{Title: "AI gateway", Version: g.cfg.Version, Server: mount, Bearer: len(g.keyHashes) > 0 || g.cfg.Keys != nil}
	s.Endpoints = append(s.Endpoints, ListModels.String(), GetModel.String())
	for i := range endpoints {
		ep := &endpoints[i]
		for _, u := range g.providers {
			if u.ops[ep.id] != nil {
				s.Endpoints = append(s.Endpoints, ep.id.String())
				switch ep.id { // the resources the endpoint makes, served under it
				case Responses:
					s.Endpoints = append(s.Endpoints, Response.String())
				case Videos:
					s.Endpoints = append(s.Endpoints, Video.String(), VideoContent.String())
				}
				break
			}
		}
	}
	if g.cfg.Keys != nil {
		s.Endpoints = append(s.Endpoints, "keys")
	}
	for _, m := range g.router.Models() {
		s.Models = append(s.Models, m.ID)
	}
	for name := range g.cfg.Aliases {
		if strings.Contains(name, "*") {
			s.Globs = append(s.Globs, name)
		}
	}
	slices.Sort(s.Globs)
	for _, p := range g.cfg.Providers {
		if len(p.Models) == 0 {
			s.OpenProviders = append(s.OpenProviders, p.Name)
		}
	}
	return s
}

// docsAsset is the page file a path asks for under …/docs/, or "" when the path is not the page's.
func docsAsset(p string) string {
	i := strings.LastIndex(p, "/docs/")
	if i < 0 {
		if strings.HasSuffix(p, "/docs") {
			return "index.html"
		}
		return ""
	}
	switch name := p[i+len("/docs/"):]; name {
	case "", "index.html":
		return "index.html"
	case "app.js", "app.css":
		return name
	}
	return ""
}

// docsPolicy keeps the page to its own files and this gateway's API: no inline script, no other origin.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; media-src blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveDocsPage serves the "Try it" page's files. A bare …/docs redirects to …/docs/ so that the page's
// relative URLs (../openapi.json) resolve under the mount.
func (g *Gateway) serveDocsPage(w http.ResponseWriter, r *http.Request, res *Result) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.fail(w, res, transform.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
			"use GET for "+r.URL.Path))
		return
	}
	if strings.HasSuffix(r.URL.Path, "/docs") {
		w.Header().Set("Location", path.Base(r.URL.Path)+"/")
		w.WriteHeader(http.StatusMovedPermanently)
		res.Status = http.StatusMovedPermanently
		return
	}
	name := docsAsset(r.URL.Path)
	b, err := openapi.Page.ReadFile("page/" + name)
	if err != nil {
		g.fail(w, res, transform.NewError(http.StatusInternalServerError, "server_error", "", err.Error()))
		return
	}
	h := w.Header()
	switch {
	case strings.HasSuffix(name, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		h.Set("Content-Type", "text/css; charset=utf-8")
	default:
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	h.Set("Content-Security-Policy", docsPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	if r.Method != http.MethodHead {
		_, _ = bytes.NewReader(b).WriteTo(w)
	}
}
