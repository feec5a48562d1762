package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// The end-to-end cases of the hardening issue (#10): hostile request bodies, hostile upstream answers, key
// bypasses, concurrent budgets and credentials echoed by upstreams, each against real Caddy processes.

// rssKiB returns the resident set size of the process, from /proc.
func (p *caddyProc) rssKiB() int {
	p.t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		p.t.Skipf("no /proc status for caddy %s: %v", p.name, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	p.t.Fatalf("no VmRSS in /proc status of caddy %s", p.name)
	return 0
}

// post sends body to the gateway's chat endpoint with the given header pairs (added, so a name may repeat).
func post(ctx context.Context, c *http.Client, gw *caddyProc, body []byte, header ...string) *answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gw.url("/v1/chat/completions"), bytes.NewReader(body))
	if err != nil {
		return &answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return &answer{err: err}
	}
	defer resp.Body.Close()
	a := &answer{status: resp.StatusCode, header: resp.Header}
	var buf bytes.Buffer
	_, a.err = buf.ReadFrom(resp.Body)
	a.body = buf.Bytes()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		a.parseEvents()
	}
	return a
}

// TestDeepRequestBodies: bodies of nothing but '[' used to overflow the stack (16 MB limit, every site of the
// process down) or take the process to gigabytes (4 MiB). They get a 400, the process stays small and alive.
func TestDeepRequestBodies(t *testing.T) {
	requireE2E(t)
	sim := startSimulator(t, "simulator", "")
	gw := startCaddy(t, "gateway", gatewayConfig(simProvider("sim", sim, "")+"max_request_body 16MB\n"))
	c := newClient(t)
	ctx := context.Background()
	if a := chat(ctx, c, gw, chatBody("sim/gpt-4o-mini", false)); !a.succeeded() {
		t.Fatalf("warm-up: %s", a.describe())
	}
	before := gw.rssKiB()

	if a := post(ctx, c, gw, bytes.Repeat([]byte("["), 6_000_000)); a.status != http.StatusBadRequest ||
		gjson.GetBytes(a.body, "error.code").Str != "json_too_deep" {
		t.Fatalf("6,000,000 '[': %s; want 400 json_too_deep", a.describe())
	}
	deep := bytes.Repeat([]byte("["), 4<<20-1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if a := post(ctx, c, gw, deep); a.status != http.StatusBadRequest {
				t.Errorf("4 MiB of '[': %s; want 400", a.describe())
			}
		})
	}
	wg.Wait()
	if gw.exited() {
		t.Fatal("the gateway process died")
	}
	grown := gw.rssKiB() - before
	t.Logf("RSS grew by %d KiB refusing 22 MB of deep bodies", grown)
	if grown > 150<<10 {
		t.Errorf("RSS grew by %d MiB refusing five deep bodies (22 MB in all); want well under 150 MiB", grown>>10)
	}
	if a := chat(ctx, c, gw, chatBody("sim/gpt-4o-mini", true)); !a.succeeded() {
		t.Fatalf("after the deep bodies: %s", a.describe())
	}
}

// hostileUpstream answers every dialect's chat path with what answer returns for (dialect, stream).
func hostileUpstream(t *testing.T, answer func(w http.ResponseWriter, dialect string, stream bool)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		stream := gjson.GetBytes(buf.Bytes(), "stream").Bool()
		dialect := "openai"
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/messages"):
			dialect = "anthropic"
		case strings.Contains(p, ":streamGenerateContent"):
			dialect, stream = "gemini", true
		case strings.Contains(p, ":generateContent"):
			dialect = "gemini"
		case strings.HasSuffix(p, "/api/chat"):
			dialect = "ollama_native"
		}
		answer(w, dialect, stream)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// dialectProviders declares one provider per dialect, each named after its type, all on base.
func dialectProviders(base, key string) string {
	var b strings.Builder
	for _, d := range []struct{ typ, path string }{{"openai", "/v1"}, {"anthropic", ""}, {"gemini", "/v1beta"}, {"ollama_native", ""}} {
		fmt.Fprintf(&b, "provider %s {\n\ttype %s\n\tbase_url %s%s\n\tapi_key %s\n}\n", d.typ, d.typ, base, d.path, key)
	}
	return b.String()
}

var dialects = []string{"openai", "anthropic", "gemini", "ollama_native"}

// TestDeepUpstreamAnswers: an upstream answering 200 with 8 MB of '[' crashed the process in every dialect's
// translator. It is a 502 bad_upstream_response, streamed or not, and a route falls back from it.
func TestDeepUpstreamAnswers(t *testing.T) {
	requireE2E(t)
	deep := bytes.Repeat([]byte("["), 8<<20)
	base := hostileUpstream(t, func(w http.ResponseWriter, dialect string, stream bool) {
		switch {
		case !stream:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(deep)
		case dialect == "ollama_native":
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = w.Write(deep[:512<<10])
			_, _ = w.Write([]byte("\n"))
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: "))
			_, _ = w.Write(deep[:512<<10])
			_, _ = w.Write([]byte("\n\n"))
		}
	})
	sim := startSimulator(t, "simulator", "")
	gw := startCaddy(t, "gateway", gatewayConfig(dialectProviders(base, "sk-e2e-unused")+simProvider("sim", sim, "")+
		"route fallback {\n\ttarget openai/gpt-4o-mini\n\tfallback sim/gpt-4o-mini\n}\n"))
	c := newClient(t)
	ctx := context.Background()
	for _, d := range dialects {
		for _, stream := range []bool{false, true} {
			a := chat(ctx, c, gw, chatBody(d+"/m", stream))
			if a.status != http.StatusBadGateway || gjson.GetBytes(a.body, "error.code").Str != "bad_upstream_response" {
				t.Errorf("%s, stream %v: %s; want 502 bad_upstream_response", d, stream, a.describe())
			}
		}
	}
	if gw.exited() {
		t.Fatal("the gateway process died")
	}
	for _, stream := range []bool{false, true} {
		if a := chat(ctx, c, gw, chatBody("fallback", stream)); !a.succeeded() || a.header.Get("X-AI-Gateway-Provider") != "sim" {
			t.Errorf("route falling back from the deep answer (stream %v): %s, provider %q; want the simulator's answer",
				stream, a.describe(), a.header.Get("X-AI-Gateway-Provider"))
		}
	}
}

// TestProviderKeysNeverEchoed: an upstream error quoting the provider's key reached the client and the log in
// every dialect but Anthropic's. The key is redacted everywhere, in error bodies and in stream error events.
func TestProviderKeysNeverEchoed(t *testing.T) {
	requireE2E(t)
	const key = "e2e-provider-credential-7f3a9c" // no sk- prefix: redaction must not depend on the key's shape
	msg := "Invalid API key provided: Bearer " + key
	base := hostileUpstream(t, func(w http.ResponseWriter, dialect string, stream bool) {
		var body string
		switch dialect {
		case "anthropic":
			body = `{"type":"error","error":{"type":"authentication_error","message":"` + msg + `"}}`
		case "gemini":
			body = `{"error":{"code":400,"message":"` + msg + `","status":"INVALID_ARGUMENT"}}`
		case "ollama_native":
			body = `{"error":"` + msg + `"}`
		default:
			body = `{"error":{"message":"` + msg + `","type":"invalid_request_error","code":"invalid_api_key"}}`
		}
		if !stream {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(body))
			return
		}
		// In-stream: one good event, then the error.
		switch dialect {
		case "anthropic":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "event: message_start\ndata: %s\n\nevent: error\ndata: %s\n\n",
				`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":5,"output_tokens":1}}}`, body)
		case "ollama_native":
			w.Header().Set("Content-Type", "application/x-ndjson")
			fmt.Fprintf(w, "%s\n%s\n", `{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}`, body)
		case "gemini":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: %s\n\ndata: %s\n\n", `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}`, body)
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: %s\n\ndata: %s\n\n",
				`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}`, body)
		}
	})
	gw := startCaddy(t, "gateway", gatewayConfig(dialectProviders(base, key)))
	c := newClient(t)
	ctx := context.Background()
	for _, d := range dialects {
		for _, stream := range []bool{false, true} {
			a := chat(ctx, c, gw, chatBody(d+"/m", stream))
			if a.err != nil {
				t.Fatalf("%s, stream %v: %v", d, stream, a.err)
			}
			if a.status == http.StatusOK && !a.errEv.Exists() {
				t.Errorf("%s, stream %v: %s; want an error", d, stream, a.describe())
			}
			if strings.Contains(string(a.body), key) {
				t.Errorf("%s, stream %v: the provider key reached the client: %s", d, stream, a.body)
			}
			if !strings.Contains(string(a.body), "Invalid API key provided") {
				t.Errorf("%s, stream %v: the upstream's message should still reach the client, redacted: %s", d, stream, a.body)
			}
		}
	}
	gw.waitLog(accessLogMsg, 2*len(dialects), nil)
	if b, _ := os.ReadFile(gw.logPath); bytes.Contains(b, []byte(key)) {
		t.Errorf("the provider key reached the log:\n%s", tail(gw.logPath, 3000))
	}
	if b, _ := os.ReadFile(gw.outPath); bytes.Contains(b, []byte(key)) {
		t.Errorf("the provider key reached the process output:\n%s", tail(gw.outPath, 3000))
	}
}
