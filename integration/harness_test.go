package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/tidwall/gjson"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/aibackend/caddy-ai-gateway"
	_ "github.com/aibackend/caddy-ai-gateway/simulator"
)

// The admin port and keys shared by every test. Only this package starts a Caddy with caddytest, so admin port
// 2999 (caddytest's default) cannot collide. Each loaded site listens on an HTTP port of its own (see
// freePort).
const (
	adminPort   = 2999
	clientKey   = "sk-client-integration"
	upstreamKey = "sk-upstream-secret"
)

// caddyfile is the site every test loads: the gateway mounted on /v1/* and /api/v1/* before a reverse proxy to
// the next handler, an access log enriched with log_append, and a log of the handler's own lines. The
// placeholders are: the log directory (twice), the gateway block's body, the next handler's address and the
// HTTP port (twice).
const caddyfile = `{
	admin localhost:2999
	http_port %[4]d
	https_port 9443
	skip_install_trust
	persist_config off
	grace_period 1s
	log gateway {
		output file %[1]s/gateway.log
		format json
		include http.handlers.ai_gateway
	}
}

:%[4]d {
	log {
		output file %[1]s/access.log
		format json
	}
	log_append ai_provider {http.ai_gateway.provider}
	log_append ai_model {http.ai_gateway.model}
	log_append ai_upstream_model {http.ai_gateway.upstream_model}
	log_append ai_prompt_tokens {http.ai_gateway.prompt_tokens}
	log_append ai_completion_tokens {http.ai_gateway.completion_tokens}
	log_append ai_total_tokens {http.ai_gateway.total_tokens}
	log_append ai_status {http.ai_gateway.status}

	@ai path /v1/* /api/v1/*
	ai_gateway @ai {
		client_keys ` + clientKey + `
%[2]s
	}
	reverse_proxy %[3]s
}
`

// site is one loaded gateway configuration and a client for it.
type site struct {
	t *testing.T
	// url is the gateway's base URL, http://127.0.0.1:<port>.
	url    string
	logDir string
	client *http.Client
}

// startGateway loads the test Caddyfile with gatewayBody inside the ai_gateway block and returns the site.
// Requests the gateway does not serve reach a next handler that answers "next handler: <path>".
//
// Each site listens on a port no earlier site used. On a reload Caddy starts the new server before it stops
// the old one, and both accept on a shared listener until the old one's shutdown goroutine closes its side:
// on one port, a test's first connections could reach the previous test's server (a 502 from its closed
// upstream, or an EOF when its shutdown closes the connection). A fresh port is only ever served by the new
// configuration, which is listening by the time the load returns.
//
// The log files live in a directory of the whole run (logRoot), not in t.TempDir: Caddy writes a request's
// access log line after the response, and a file writer reopens its file on a write after its config was
// unloaded, so a per-test directory removed at the end of the test could be written to while it is removed.
func startGateway(t *testing.T, gatewayBody string) *site {
	t.Helper()
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "next handler: %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(next.Close)
	logDir, err := os.MkdirTemp(logRoot, "site-")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := &site{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), logDir: logDir,
		client: &http.Client{Transport: newConformance(t, &http.Transport{}, clientKey), Timeout: 15 * time.Second}}
	t.Cleanup(s.client.CloseIdleConnections)
	cfg := fmt.Sprintf(caddyfile, s.logDir, gatewayBody, strings.TrimPrefix(next.URL, "http://"), port)
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort, LoadRequestTimeout: 10 * time.Second})
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return s
}

// usedPorts are the HTTP ports handed out so far in this run: a port is never given to two sites.
var usedPorts = map[int]bool{}

// freePort returns a TCP port that nothing listens on and no earlier site of this run used.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !usedPorts[port] {
			usedPorts[port] = true
			return port
		}
	}
}

// request sends a request to the gateway with the client key (unless headers set Authorization) and returns
// the response; the body is closed when the test ends.
func (s *site) request(ctx context.Context, method, path, body string, headers ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// post sends a chat completion request body to path and returns the status, headers and whole body.
func (s *site) post(path, body string, headers ...string) (int, http.Header, []byte) {
	s.t.Helper()
	resp := s.request(context.Background(), http.MethodPost, path, body, headers...)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("reading the response of POST %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// logLines waits until file holds at least n JSON lines whose msg is msg, and returns them.
func (s *site) logLines(file, msg string, n int) []gjson.Result {
	s.t.Helper()
	var lines []gjson.Result
	deadline := time.Now().Add(3 * time.Second)
	for {
		lines = lines[:0]
		b, _ := os.ReadFile(filepath.Join(s.logDir, file))
		for _, l := range bytes.Split(b, []byte("\n")) {
			if r := gjson.ParseBytes(l); r.Get("msg").String() == msg {
				lines = append(lines, r)
			}
		}
		if len(lines) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(lines) < n {
		s.t.Fatalf("%s: want %d %q lines, found %d", file, n, msg, len(lines))
	}
	return lines
}

// gatewayLog returns the handler's "ai gateway request" lines once there are n of them.
func (s *site) gatewayLog(n int) []gjson.Result {
	return s.logLines("gateway.log", "ai gateway request", n)
}

// accessLog returns the access log's lines once there are n of them.
func (s *site) accessLog(n int) []gjson.Result {
	return s.logLines("access.log", "handled request", n)
}

// sseReader reads a client's SSE stream one data payload at a time.
type sseReader struct{ r *bufio.Reader }

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReader(r)} }

// next returns the next event's data (lines joined by "\n"), or io.EOF.
func (s *sseReader) next() (string, error) {
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && len(data) > 0 {
				return strings.Join(data, "\n"), nil
			}
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(data) > 0 {
				return strings.Join(data, "\n"), nil
			}
			continue
		}
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(d, " "))
		}
	}
}

// all reads the remaining events.
func (s *sseReader) all() ([]string, error) {
	var out []string
	for {
		d, err := s.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
}

// assertOpenAIError checks that body is an OpenAI error object with the given type and code ("" = any).
func assertOpenAIError(t *testing.T, body []byte, typ, code string) gjson.Result {
	t.Helper()
	e := gjson.GetBytes(body, "error")
	if !e.IsObject() || e.Get("message").Type != gjson.String || e.Get("message").Str == "" {
		t.Fatalf("want an OpenAI error object with a message, got %s", body)
	}
	if typ != "" && e.Get("type").String() != typ {
		t.Errorf("error type = %q, want %q (body %s)", e.Get("type").String(), typ, body)
	}
	if code != "" && e.Get("code").String() != code {
		t.Errorf("error code = %q, want %q (body %s)", e.Get("code").String(), code, body)
	}
	return e
}
