package aigateway

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/aibackend/caddy-ai-gateway/dialects"
)

// caddyfileBlocks returns the ```caddyfile blocks of a Markdown file.
func caddyfileBlocks(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(string(src), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// isSyntax reports whether a block is a grammar (with <placeholders> and a|b choices), not a config.
func isSyntax(block string) bool {
	return strings.Contains(block, "<name>") || strings.Contains(block, "<provider/model>")
}

// asSite wraps a documentation snippet into a site block: a bare ai_gateway directive, or the lines of an
// ai_gateway block (a provider, say).
func asSite(block string) string {
	first := strings.Fields(block)
	switch {
	case len(first) > 0 && first[0] == "ai_gateway":
		return ":8080 {\n" + block + "\n}\n"
	case len(first) > 0 && slices.Contains(handlerOptions.Names(), first[0]):
		return ":8080 {\n\tai_gateway {\n" + block + "\n\t}\n}\n"
	}
	return block // a whole Caddyfile
}

// TestDocsCaddyfilesAdapt adapts every Caddyfile block of README.md and docs/*.md and every examples/*/Caddyfile, and
// provisions the handlers they adapt to, so that the documentation cannot drift from the syntax.
func TestDocsCaddyfilesAdapt(t *testing.T) {
	t.Setenv("GATEWAY_ADMIN_KEYS", "docs-admin-key-0123456789")
	docs := map[string]string{}
	for i, b := range caddyfileBlocks(t, "README.md") {
		if !isSyntax(b) {
			docs["README.md block "+string(rune('1'+i))] = asSite(b)
		}
	}
	pages, _ := filepath.Glob("docs/*.md")
	for _, page := range pages {
		for i, b := range caddyfileBlocks(t, page) {
			if !isSyntax(b) {
				docs[page+" block "+string(rune('1'+i))] = asSite(b)
			}
		}
	}
	examples, _ := filepath.Glob("examples/*/Caddyfile")
	for _, path := range examples {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path] = string(src)
	}
	if len(docs) < 3 {
		t.Fatalf("found only %d Caddyfiles in README.md and examples/", len(docs))
	}
	for name, src := range docs {
		out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": name})
		if err != nil {
			t.Errorf("%s does not adapt: %v\n%s", name, err, src)
			continue
		}
		if provisionAdapted(t, out) == 0 {
			t.Errorf("%s: adapted config has no ai_gateway handler", name)
		}
	}
}

// optionNames returns the first word of every line of a syntax block, the option names it documents.
func optionNames(block string) []string {
	var names []string
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			names = append(names, f[0])
		}
	}
	return names
}

// TestSyntaxNamesEveryOption checks that the syntax in UnmarshalCaddyfile's godoc (the one place it is
// written, with each dialect's own options in its module's godoc) names every option of the handler's parsing
// tables, and that README.md's copy names those and every dialect's, and no option no table knows.
func TestSyntaxNamesEveryOption(t *testing.T) {
	known := []string{"ai_gateway", "}"}
	for _, names := range [][]string{handlerOptions.Names(), providerOptions.Names(), routeOptions.Names(),
		retryOptions.Names(), cooldownOptions.Names(), rateLimitOptions.Names(), storeOptions.Names(),
		virtualKeysOptions.Names()} {
		known = append(known, names...)
	}
	generic := slices.Clone(known)
	for _, names := range dialects.OptionNames() {
		known = append(known, names...)
	}
	var readme string
	for _, b := range caddyfileBlocks(t, "README.md") {
		if strings.HasPrefix(b, "ai_gateway [<matcher>]") {
			readme = b
		}
	}
	src, err := os.ReadFile("caddyfile.go")
	if err != nil {
		t.Fatal(err)
	}
	godoc := regexp.MustCompile(`(?s)// UnmarshalCaddyfile sets up the handler from Caddyfile tokens\. Syntax:\n//\n(.*?)\n//\n// [A-Z]`).FindStringSubmatch(string(src))
	if readme == "" || godoc == nil {
		t.Fatal("the syntax block was not found in README.md or in UnmarshalCaddyfile's godoc")
	}
	// the godoc has the handler's and provider block's own options (each dialect module documents its own);
	// the README has them all
	for where, block := range map[string]string{"README.md": readme, "UnmarshalCaddyfile's godoc": strings.ReplaceAll(strings.ReplaceAll(godoc[1], "//\t", ""), "//\n", "\n")} {
		documented := optionNames(block)
		want := known
		if where != "README.md" {
			want = generic
		}
		for _, name := range want {
			if !slices.Contains(documented, name) {
				t.Errorf("%s's syntax does not name option %s", where, name)
			}
		}
		for _, name := range documented {
			if !slices.Contains(want, name) {
				t.Errorf("%s's syntax names %s, which no parsing table knows", where, name)
			}
		}
	}
}
