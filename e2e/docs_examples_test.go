package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docsDir holds the endpoint pages, from this package's directory.
const docsDir = "../docs"

// example is one fenced code block of a docs page.
type example struct {
	page, lang, code string
	// expect is the text the example's output must contain (the fence's expect="..."); examples without
	// one are shown, not run (a shell session that writes files, say).
	expect string
	line   int
}

var fence = regexp.MustCompile("(?m)^```([a-z]+)([^\\n]*)\\n((?s:.*?))^```$")

// docsExamples returns every code block of docs/*.md.
func docsExamples(t *testing.T) []example {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs pages in %s: %v", docsDir, err)
	}
	var out []example
	for _, page := range pages {
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllSubmatchIndex(src, -1) {
			ex := example{page: filepath.Base(page), lang: string(src[m[2]:m[3]]), code: string(src[m[6]:m[7]]),
				line: bytes.Count(src[:m[0]], []byte("\n")) + 1}
			meta := string(src[m[4]:m[5]])
			if _, v, ok := strings.Cut(meta, "expect="); ok {
				s, err := strconv.Unquote(strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("%s:%d: expect=%s is not a quoted string: %v", ex.page, ex.line, v, err)
				}
				ex.expect = s
			}
			out = append(out, ex)
		}
	}
	return out
}

// TestDocsExamplesRun runs every curl, TypeScript and Go example of docs/*.md against the real quickstart
// (its localhost:8080 pointed at the test's port) and checks that each exits 0 and prints what its fence's
// expect="..." says; Python examples are compiled (python3 -m py_compile), and run too where the openai
// package is installed. A page whose example stops working fails here.
func TestDocsExamplesRun(t *testing.T) {
	requireE2E(t)
	examples := docsExamples(t)
	qs := startQuickstart(t)
	addr := "127.0.0.1:" + strconv.Itoa(qs.port)
	goBinaries := buildGoExamples(t, examples, addr)
	counts := map[string]int{}
	for i, ex := range examples {
		name := fmt.Sprintf("%s:%d/%s", ex.page, ex.line, ex.lang)
		code := strings.ReplaceAll(ex.code, "localhost:8080", addr)
		switch ex.lang {
		case "sh", "ts", "go":
			if ex.expect == "" {
				continue
			}
		case "python":
		default:
			continue
		}
		counts[ex.lang]++
		t.Run(name, func(t *testing.T) {
			var out string
			switch ex.lang {
			case "sh":
				requireTool(t, "curl")
				out = runExample(t, "", nil, "bash", "-c", "set -euo pipefail\n"+code)
			case "ts":
				requireNode(t)
				npmCI(t)
				// In e2e/npm, so that its node_modules (openai, ai, @ai-sdk/*) resolve.
				f, err := os.CreateTemp(npmDir, ".docs-example-*.mjs")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(f.Name()) })
				if _, err := f.WriteString(code); err != nil {
					t.Fatal(err)
				}
				f.Close()
				out = runExample(t, "", nil, "node", f.Name())
			case "go":
				out = runExample(t, "", nil, goBinaries[i])
			case "python":
				requireTool(t, "python3")
				f := filepath.Join(t.TempDir(), "example.py")
				if err := os.WriteFile(f, []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
				runExample(t, "", nil, "python3", "-m", "py_compile", f)
				if exec.Command("python3", "-c", "import openai").Run() != nil && strings.Contains(code, "openai") {
					t.Log("compiled; not run: the python openai package is not installed")
					return
				}
				out = runExample(t, "", nil, "python3", f)
				if strings.TrimSpace(out) == "" {
					t.Errorf("the example printed nothing")
				}
				return
			}
			if !strings.Contains(out, ex.expect) {
				t.Errorf("the output does not contain %q:\n%s", ex.expect, out)
			}
		})
	}
	for _, lang := range []string{"sh", "ts", "go", "python"} {
		if counts[lang] == 0 {
			t.Errorf("no %s examples found in %s: the pages or the fences changed", lang, docsDir)
		}
	}
}

// requireTool skips when a tool the example needs is missing, except under CI=true where it fails.
func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not in PATH", tool)
		}
		t.Skipf("%s is not in PATH", tool)
	}
}

// runExample runs a command with a deadline and returns its combined output, failing the test when it
// does not exit 0.
func runExample(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildGoExamples builds every Go example that has an expectation, in one `go build` of one module with a
// package per example (the SDK compiles once), and returns each example's binary by its index. The module
// requires the openai-go version of this repository's go.mod and has its go.sum, so nothing new is
// downloaded.
func buildGoExamples(t *testing.T, examples []example, addr string) map[int]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/openai/openai-go/v3 (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/openai/openai-go/v3")
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"go.sum": sum,
		"go.mod": []byte("module docsexamples\n\ngo 1.26\n\nrequire github.com/openai/openai-go/v3 " + string(m[1]) + "\n")}
	bins := map[int]string{}
	for i, ex := range examples {
		if ex.lang != "go" || ex.expect == "" {
			continue
		}
		name := fmt.Sprintf("example%02d", i)
		files[filepath.Join(name, "main.go")] = []byte(strings.ReplaceAll(ex.code, "localhost:8080", addr))
		bins[i] = filepath.Join(dir, "bin", name)
	}
	if len(bins) == 0 {
		return bins
	}
	for name, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runExample(t, dir, []string{"GOFLAGS=-mod=mod", "GOWORK=off"}, "go", "build", "-o", filepath.Join(dir, "bin")+"/", "./...")
	return bins
}
