package dialects

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		typ, provider, wantType, wantBase string
		keyless                           bool
	}{
		{"", "openai", "openai", "https://api.openai.com/v1", false},
		{"", "groq", "openai", "https://api.groq.com/openai/v1", false},
		{"", "local", "openai", "", false}, // any other name: OpenAI-compatible, base_url needed
		{"vllm", "gpu", "openai", "http://127.0.0.1:8000/v1", true},
		{"ollama", "box", "openai", "http://127.0.0.1:11434/v1", true},
		{"", "anthropic", "anthropic", "https://api.anthropic.com", false},
		{"google", "g", "gemini", "https://generativelanguage.googleapis.com", false},
		{"", "ollama_native", "ollama_native", "http://127.0.0.1:11434", true},
		{"azure", "work", "azure", "", false}, // from resource, once provisioned
	} {
		d, typ, err := Resolve(c.typ, c.provider)
		if err != nil {
			t.Fatalf("%q/%q: %v", c.typ, c.provider, err)
		}
		if typ != c.wantType || !strings.HasPrefix(d.BaseURL(), c.wantBase) || (c.wantBase == "") != (d.BaseURL() == "") || d.Keyless() != c.keyless {
			t.Errorf("type %q, provider %q: got type %s, base URL %q, keyless %v; want %s, %q, %v",
				c.typ, c.provider, typ, d.BaseURL(), d.Keyless(), c.wantType, c.wantBase, c.keyless)
		}
	}
	if _, _, err := Resolve("sagemaker", "x"); err == nil || !strings.Contains(err.Error(), "unknown type 'sagemaker' (known: anthropic, azure, bedrock,") {
		t.Errorf("unknown type: %v", err)
	}
}

// TestUnmarshalHandsLinesToTheDialect: the provider block's dialect lines, wherever they were, reach the
// module as one block, and errors keep their lines.
func TestUnmarshalHandsLinesToTheDialect(t *testing.T) {
	d := caddyfile.NewTestDispenser("provider work {\n\tresource r\n\tapi_key k\n\tdeployment a b\n\tdeployment c d\n}")
	var lines []caddyfile.Segment
	d.Next()
	d.NextArg()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() == "api_key" {
			d.RemainingArgs()
			continue
		}
		lines = append(lines, d.NextSegment())
	}
	az := new(Azure)
	if err := Unmarshal(az, "azure", lines); err != nil {
		t.Fatal(err)
	}
	if az.Resource != "r" || az.Deployments["a"] != "b" || az.Deployments["c"] != "d" {
		t.Errorf("azure got %+v", az)
	}
	err := Unmarshal(new(Gemini), "gemini", lines)
	if err == nil || !strings.Contains(err.Error(), "unrecognized provider subdirective 'resource' (type gemini's own options are include_thoughts, thought_signature_fallback), at Testfile:2") {
		t.Errorf("gemini given azure's options: %v", err)
	}
}

// TestSyntaxNamesEveryOption: each dialect's UnmarshalCaddyfile godoc, where its Caddyfile syntax is written,
// names exactly the options its parsing table knows.
func TestSyntaxNamesEveryOption(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`// UnmarshalCaddyfile reads the (\w+) options of a provider block[^\n]*(?:\n//[^\n]*)*?Syntax:\n//\n((?://\t[^\n]*\n)+)`)
	documented := map[string][]string{}
	for _, f := range files {
		src, _ := os.ReadFile(f)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			for _, line := range strings.Split(strings.TrimSpace(m[2]), "\n") {
				documented[m[1]] = append(documented[m[1]], strings.Fields(strings.TrimPrefix(line, "//\t"))[0])
			}
		}
	}
	for typ, names := range OptionNames() {
		got := slices.Clone(documented[typ])
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Errorf("type %s: its godoc syntax names %v, its table %v", typ, got, names)
		}
	}
	if len(documented) < 5 {
		t.Errorf("found the syntax of only %d dialects: %v", len(documented), documented)
	}
}
