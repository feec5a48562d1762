package simulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

const (
	chatBody      = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Tell me a story."}]}`
	chatStream    = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tell me a story."}]}`
	anthropicBody = `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Tell me a story."}]}`
	geminiBody    = `{"contents":[{"role":"user","parts":[{"text":"Tell me a story."}]}]}`
	toolsOpenAI   = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",` +
		`"properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},` +
		`"required":["location","unit","days"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]`
	wantArgs = `{"location":"sample","unit":"celsius","days":1}`
)

// startServer serves a simulator with cfg on loopback.
func startServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to path; headers are name, value pairs.
func post(t *testing.T, srv *httptest.Server, path, body string, headers ...string) *http.Response {
	t.Helper()
	return postCtx(t, context.Background(), srv, path, body, headers...)
}

func postCtx(t *testing.T, ctx context.Context, srv *httptest.Server, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(path, "/v1/messages") {
		req.Header.Set("anthropic-version", "2023-06-01")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readAll returns the body, failing the test on a read error.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return b
}

// jsonBody reads and parses a JSON body, checking the status.
func jsonBody(t *testing.T, resp *http.Response, status int) gjson.Result {
	t.Helper()
	b := readAll(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if !gjson.ValidBytes(b) {
		t.Fatalf("body is not valid JSON: %s", b)
	}
	return gjson.ParseBytes(b)
}

type event struct {
	name string
	data string
}

// readEvents reads a whole SSE stream; err is the read error that ended it, nil at a clean EOF.
func readEvents(t *testing.T, r io.Reader) (events []event, err error) {
	t.Helper()
	sse := transform.NewSSEReader(r, 0)
	for {
		ev, err := sse.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, event{name: string(ev.Name), data: string(ev.Data)})
	}
}

// mustEvents reads a stream that must end cleanly, with status 200, and checks each event's data is JSON
// (except OpenAI's [DONE]).
func mustEvents(t *testing.T, resp *http.Response) []event {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	events, err := readEvents(t, resp.Body)
	if err != nil {
		t.Fatalf("stream ended with %v", err)
	}
	for _, ev := range events {
		if ev.data != "[DONE]" && !gjson.Valid(ev.data) {
			t.Fatalf("event data is not JSON: %s", ev.data)
		}
	}
	return events
}

// keyPaths returns every object key path in a JSON value, array indexes written as #.
func keyPaths(v gjson.Result, prefix string, into map[string]bool) {
	if !v.IsObject() && !v.IsArray() {
		return
	}
	v.ForEach(func(k, c gjson.Result) bool {
		p := prefix + "#"
		if v.IsObject() {
			p = prefix + k.String()
		}
		if v.IsObject() {
			into[p] = true
		}
		keyPaths(c, p+".", into)
		return true
	})
}

// missingKeys lists the key paths of got that none of the reference values have.
func missingKeys(got string, reference ...string) []string {
	ref := map[string]bool{}
	for _, r := range reference {
		keyPaths(gjson.Parse(r), "", ref)
	}
	mine := map[string]bool{}
	keyPaths(gjson.Parse(got), "", mine)
	var missing []string
	for p := range mine {
		if !ref[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	return missing
}

// storyWords is the text answer of n words.
func storyWords(n int) string { return string(appendWords(nil, 0, n)) }

// fixtureEvents returns the data of every event of a recorded stream in testdata/fixtures.
func fixtureEvents(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("../testdata/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := readEvents(t, f)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, ev := range events {
		if ev.data != "[DONE]" {
			data = append(data, ev.data)
		}
	}
	return data
}
