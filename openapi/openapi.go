// Package openapi renders the OpenAPI 3.1 document of a configured gateway: the endpoints it serves under
// its mount, their request, response, stream-event and error schemas, the auth schemes it accepts, and the
// model names clients may use. The engine (package gateway) says what is configured; this package knows
// what each endpoint looks like on the wire. It also embeds the "Try it" page that renders the document.
package openapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Spec is what a gateway serves, as the document describes it.
type Spec struct {
	// Title and Version fill the document's info object.
	Title, Version string
	// Server is the path the gateway is mounted at, e.g. "/v1": the document's only server URL.
	Server string
	// Endpoints are the fixed names of the endpoints the gateway serves ("chat_completions", "models", ...),
	// as package gateway names them. Names this package does not describe are an error of Build.
	Endpoints []string
	// Models are the names clients may send as model: allow-listed provider/model names, aliases, routes.
	Models []string
	// OpenProviders are the providers that accept any model name: "<provider>/<anything>" is also valid.
	OpenProviders []string
	// Globs are the glob aliases ("claude-*"), each '*' matching any run of characters.
	Globs []string
	// Bearer is set when the gateway checks client keys (Authorization: Bearer <key>).
	Bearer bool
}

//go:embed schemas/*.json
var schemaFiles embed.FS

// Described reports whether the package describes endpoint name, so that the engine's tests can check that
// every endpoint it serves is in the document.
func Described(name string) bool {
	_, ok := operations[name]
	return ok
}

// Build returns the OpenAPI 3.1 document (JSON) of s.
func Build(s Spec) ([]byte, error) {
	schemas, err := loadSchemas()
	if err != nil {
		return nil, err
	}
	schemas["Model"] = modelSchema(s.Models, s.OpenProviders, s.Globs)
	paths := map[string]map[string]any{}
	anthropic := false
	for _, name := range s.Endpoints {
		ops, ok := operations[name]
		if !ok {
			return nil, fmt.Errorf("openapi: no description of endpoint %q", name)
		}
		for _, op := range ops {
			if op.anthropic {
				anthropic = true
			}
			if paths[op.path] == nil {
				paths[op.path] = map[string]any{}
			}
			paths[op.path][strings.ToLower(op.method)] = op.render(name, s.Bearer)
		}
	}
	for _, op := range everyOperation() {
		for _, ref := range op.refs() {
			if _, ok := schemas[ref]; !ok {
				return nil, fmt.Errorf("openapi: operation %s %s refers to unknown schema %q", op.method, op.path, ref)
			}
		}
	}
	components := map[string]any{"schemas": schemas}
	if s.Bearer {
		sec := map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
			"description": "A client key of the gateway (client_keys), as `Authorization: Bearer <key>`."}}
		if anthropic {
			sec["apiKey"] = map[string]any{"type": "apiKey", "in": "header", "name": "x-api-key",
				"description": "The same client key as `x-api-key`, as Anthropic's clients send it (Messages surface only)."}
		}
		components["securitySchemes"] = sec
	}
	title := s.Title
	if title == "" {
		title = "AI gateway"
	}
	version := s.Version
	if version == "" {
		version = "dev"
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": title, "version": version,
			"description": "The OpenAI-compatible API of this gateway, generated from its live configuration. " +
				"Models are named `provider/model`, or by an alias or route the operator configured."},
		"servers":    []any{map[string]any{"url": serverURL(s.Server)}},
		"paths":      paths,
		"components": components,
	}
	if s.Bearer {
		doc["security"] = []any{map[string]any{"bearer": []any{}}}
	}
	return json.MarshalIndent(doc, "", "  ")
}

// serverURL is the mount path, "/" when the gateway serves at the root.
func serverURL(p string) string {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "/"
	}
	return p
}

// loadSchemas merges the embedded schema files into one components.schemas object.
func loadSchemas() (map[string]any, error) {
	out := map[string]any{}
	err := fs.WalkDir(schemaFiles, "schemas", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := schemaFiles.ReadFile(path)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("openapi: %s: %w", path, err)
		}
		for k := range m {
			if _, dup := out[k]; dup {
				return fmt.Errorf("openapi: schema %q defined twice (%s)", k, path)
			}
		}
		maps.Copy(out, m)
		return nil
	})
	return out, err
}

// modelSchema is the schema of the model field: the configured names, any name under an open provider, and
// any name a glob alias matches.
func modelSchema(models, open, globs []string) map[string]any {
	desc := "The model to use: `provider/model`, an alias or a route. GET /models lists the configured names."
	var alts []any
	if len(models) > 0 {
		alts = append(alts, map[string]any{"type": "string", "enum": slices.Clone(models)})
	}
	if len(open) > 0 {
		quoted := make([]string, len(open))
		for i, p := range open {
			quoted[i] = regexp.QuoteMeta(p)
		}
		alts = append(alts, map[string]any{"type": "string", "pattern": "^(" + strings.Join(quoted, "|") + ")/.+$",
			"description": "Any model of a provider that accepts every model name."})
	}
	for _, g := range globs {
		parts := strings.Split(g, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		alts = append(alts, map[string]any{"type": "string", "pattern": "^" + strings.Join(parts, ".*") + "$",
			"description": "A name the glob alias " + g + " serves."})
	}
	switch len(alts) {
	case 0:
		return map[string]any{"type": "string", "description": desc}
	case 1:
		m := alts[0].(map[string]any)
		m["description"] = desc
		return m
	}
	return map[string]any{"anyOf": alts, "description": desc}
}

// Page holds the "Try it" page's files (page/index.html, page/app.js, page/app.css): it fetches the document
// from ../openapi.json and sends requests with the key its user types, kept only in the open tab's memory.
//
//go:embed page
var Page embed.FS
