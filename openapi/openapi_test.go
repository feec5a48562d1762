package openapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func load(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("loading the document: %v\n%s", err, b)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	return doc
}

func everyEndpoint() []string {
	var names []string
	for n := range operations {
		names = append(names, n)
	}
	return names
}

func TestBuildValidatesWithEveryEndpoint(t *testing.T) {
	b, err := Build(Spec{Server: "/v1", Endpoints: everyEndpoint(), Models: []string{"openai/gpt-4o-mini", "smart"},
		OpenProviders: []string{"local"}, Bearer: true})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, b)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if got := doc.Servers[0].URL; got != "/v1" {
		t.Errorf("server URL = %q, want /v1", got)
	}
	for _, op := range everyOperation() {
		if doc.Paths.Find(op.path) == nil || doc.Paths.Find(op.path).GetOperation(op.method) == nil {
			t.Errorf("%s %s is missing from the document", op.method, op.path)
		}
	}
	if doc.Components.SecuritySchemes["bearer"] == nil || len(doc.Security) != 1 {
		t.Error("client keys are configured but the document does not require the bearer scheme")
	}
	model := doc.Components.Schemas["Model"].Value
	if len(model.AnyOf) != 2 || len(model.AnyOf[0].Value.Enum) != 2 || model.AnyOf[1].Value.Pattern != "^(local)/.+$" {
		t.Errorf("Model schema = %+v, want the two names and the open provider's pattern", model)
	}
	for _, name := range []string{"openai/gpt-4o-mini", "smart", "local/anything-at-all"} {
		if err := model.VisitJSON(name, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("model %q refused by the document: %v", name, err)
		}
	}
	for _, name := range []string{"openai/gpt-5", "other/x", ""} {
		if err := model.VisitJSON(name, openapi3.EnableJSONSchema2020()); err == nil {
			t.Errorf("model %q accepted by the document, the gateway refuses it", name)
		}
	}
}

func TestBuildListsOnlyWhatIsServed(t *testing.T) {
	b, err := Build(Spec{Server: "/", Endpoints: []string{"chat_completions", "models"}})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, b)
	if n := doc.Paths.Len(); n != 2 {
		t.Errorf("%d paths, want 2 (chat completions and models)", n)
	}
	if doc.Paths.Find("/embeddings") != nil {
		t.Error("embeddings listed although not served")
	}
	if len(doc.Security) != 0 || doc.Components.SecuritySchemes != nil {
		t.Error("no client keys are configured but the document asks for a key")
	}
	if m := doc.Components.Schemas["Model"].Value; m.Type == nil || !m.Type.Is("string") {
		t.Errorf("with no configured names the model is free text, got %+v", m)
	}
	if _, err := Build(Spec{Endpoints: []string{"teleport"}}); err == nil {
		t.Error("Build accepted an endpoint it does not describe")
	}
}

func TestExamplesConformToTheirSchemas(t *testing.T) {
	b, err := Build(Spec{Server: "/v1", Endpoints: everyEndpoint()})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, b)
	for name, s := range doc.Components.Schemas {
		for i, ex := range s.Value.Examples {
			if err := s.Value.VisitJSON(ex, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("example %d of %s does not conform: %v", i, name, err)
			}
		}
	}
	for _, op := range everyOperation() {
		if op.request == "" || (op.multipart && !op.alsoJSON) {
			continue // multipart bodies carry files: the page points to the docs' curl example instead
		}
		if s := doc.Components.Schemas[op.request].Value; len(s.Examples) == 0 {
			t.Errorf("%s has no example: the Try it page prefills its editor with it", op.request)
		}
	}
}

func TestYAMLIsTheSameDocument(t *testing.T) {
	b, err := Build(Spec{Server: "/api/v1", Endpoints: everyEndpoint(), Models: []string{"a/b", `quote"d`}, Bearer: true})
	if err != nil {
		t.Fatal(err)
	}
	y := YAML(b)
	if strings.HasPrefix(strings.TrimSpace(string(y)), "{") {
		t.Fatal("YAML() returned JSON")
	}
	fromJSON, fromYAML := load(t, b), load(t, y)
	j1, _ := json.Marshal(fromJSON)
	j2, _ := json.Marshal(fromYAML)
	if string(j1) != string(j2) {
		t.Errorf("the YAML document differs from the JSON one:\n%s\n%s", j1, j2)
	}
}

func TestGlobAliasesAreModels(t *testing.T) {
	b, err := Build(Spec{Server: "/v1", Endpoints: []string{"chat_completions"}, Models: []string{"openai/gpt-4o-mini"},
		Globs: []string{"claude-*", "a.b*c"}})
	if err != nil {
		t.Fatal(err)
	}
	model := load(t, b).Components.Schemas["Model"].Value
	for name, want := range map[string]bool{"claude-sonnet-4-5-20250929": true, "claude-": true, "a.bxxc": true,
		"axbc": false, "openai/gpt-4o-mini": true, "gpt-4o": false} {
		if got := model.VisitJSON(name, openapi3.EnableJSONSchema2020()) == nil; got != want {
			t.Errorf("model %q accepted = %v, want %v", name, got, want)
		}
	}
}
