package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// update rewrites the golden files instead of comparing with them: go test ./transform -update.
var update = flag.Bool("update", false, "rewrite the golden files under transform/testdata")

// golden compares got with the file at path, or writes got there when -update is set.
func golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./transform -run %s -update to create it)", err, strings.SplitN(t.Name(), "/", 2)[0])
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// goldenRequest renders what BuildRequest made of a request the way the golden files hold it: the upstream
// body indented, or, when it refused the request, the OpenAI error body the client gets and its status.
func goldenRequest(t testing.TB, out *Outgoing, err error) []byte {
	t.Helper()
	var got bytes.Buffer
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not *Error: %v", err, err)
		}
		got.Write(e.AppendJSON(nil))
		fmt.Fprintf(&got, "\nstatus %d\n", e.Status)
		return got.Bytes()
	}
	if err := json.Indent(&got, out.Body, "", "  "); err != nil {
		t.Fatalf("upstream body is not valid JSON: %v\n%s", err, out.Body)
	}
	got.WriteByte('\n')
	return got.Bytes()
}

// requestGoldens are the request golden directories: each <name>.in.json there is an OpenAI chat request
// and <name>.out.json what the dialect sends upstream. A case named error_* must be refused, and its
// .out.json holds the error (see goldenRequest); any other case must translate.
var requestGoldens = []struct {
	dir                string
	dialect            Dialect
	model, clientModel string
	path               string // the upstream path every translated case must have, if not empty
}{
	{"testdata/anthropic/request", NewAnthropic(AnthropicOptions{}), "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "/v1/messages"},
	{"testdata/gemini", NewGemini(GeminiOptions{}), "m", "google/m", ""},
	{"testdata/ollama", NewOllama(OllamaOptions{KeepAlive: "10m"}), "m", "ollama/m", ""},
}

// TestRequestGolden translates every request golden case of every dialect (see requestGoldens).
func TestRequestGolden(t *testing.T) {
	for _, g := range requestGoldens {
		ins, err := filepath.Glob(filepath.Join(g.dir, "*.in.json"))
		if err != nil || len(ins) == 0 {
			t.Fatalf("%s: no golden inputs: %v", g.dir, err)
		}
		for _, in := range ins {
			name := strings.TrimSuffix(filepath.Base(in), ".in.json")
			t.Run(strings.TrimPrefix(g.dir, "testdata/")+"/"+name, func(t *testing.T) {
				body, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				req := &Request{Body: body, Model: g.model, ClientModel: g.clientModel, Stream: gjson.GetBytes(body, "stream").Bool()}
				out, err := g.dialect.BuildRequest(req)
				if wantErr := strings.HasPrefix(name, "error_"); wantErr != (err != nil) {
					t.Fatalf("BuildRequest: %v; a case named error_* must be refused and no other", err)
				}
				if err == nil && g.path != "" && out.Path != g.path {
					t.Errorf("path %q, want %q", out.Path, g.path)
				}
				golden(t, filepath.Join(g.dir, name+".out.json"), goldenRequest(t, out, err))
			})
		}
	}
}
